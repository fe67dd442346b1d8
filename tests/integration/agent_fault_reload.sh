#!/bin/sh
# agent_fault_reload.sh - reloads that must not stop the agent, sent in the
# middle of a mass reissue of FAULT_USERS (100) users: a configuration file
# with a mistake, then the CA key file moved away; SIGHUP each time.
#
# certsyncd(8) promises that the running configuration stays in force when
# a reload is refused.  A file that parses is not enough: the reload is
# checked in full (secret files, the CA key with its certificate, the
# state store, the delivery hook) before anything running is stopped.
# Proves, for each:
#  - the agent keeps running (before, the moved key made it exit 78) and
#    logs one error line naming the file and the problem ("not reloaded");
#  - certsyncctl status says the reload was refused, and why;
#  - the reissue goes on with the running configuration, and ends with
#    nothing lost, stale or doubled (fault_verdict);
# and, the file and the key put back, SIGHUP reloads ("configuration
# reloaded", status "reload: applied") and the agent goes on.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
. "$CS_SRCDIR/tests/integration/faults.sh"
fault_setup
cp "$CONF" "$T/good.conf"
# certsyncctl reads the good copy while the agent's file is broken.
ctl() { "$CTL" -c "$T/good.conf" "$@"; }

reload_refused() { # REGEX: the one line of the refusal, exactly once
	log_at_most "not reloaded" 1 && log_has "error: $CONF: not reloaded.*$1"
}

echo "# SIGHUP with a mistake in the file, during a mass reissue"
fault_reissue two.test
check "the reissue is under way" cs_wait_for 60 fault_some_moved two.test 20
log_mark
printf '[daemon]\nno_such_key = 1\n' >> "$CONF"
kill -HUP "$AGENT_PID"
check "the refusal is logged" within 10 log_has 'not reloaded'
check "... once, naming the file" reload_refused ''
check "status says the reload was refused" status_says '^reload: +refused'
check "the agent keeps running" agent_alive
check "the reissue goes on and ends" fault_wait_moved two.test 120
check "nothing lost, stale or doubled; no revoke churn" fault_verdict two.test 1 0
cp "$T/good.conf" "$CONF"

echo "# SIGHUP with the CA key moved away, during a mass reissue"
fault_reissue three.test
check "the reissue is under way" cs_wait_for 60 fault_some_moved three.test 20
log_mark
mv "$T/ca/ca.key" "$T/ca/ca.key.away"
cs_on_exit "mv '$T/ca/ca.key.away' '$T/ca/ca.key' 2>/dev/null"
kill -HUP "$AGENT_PID"
check "the refusal is logged" within 10 log_has 'not reloaded'
check "... once, naming the CA key and what is wrong with it" \
    reload_refused "\\[ca\\] key $T/ca/ca.key: .*No such file or directory"
check "status says the reload was refused, and why" \
    status_says '^reload: +refused: the CA process cannot start: \[ca\] key .*No such file'
check "the agent keeps running (it used to exit 78)" agent_alive
check "the reissue goes on with the key it holds, and ends" \
    fault_wait_moved three.test 120
check "nothing lost, stale or doubled; no revoke churn" fault_verdict three.test 2 0

echo "# the key put back: SIGHUP reloads"
mv "$T/ca/ca.key.away" "$T/ca/ca.key"
log_mark
kill -HUP "$AGENT_PID"
check "the reload is applied" within 20 log_has 'configuration reloaded'
check "status says so" within 10 status_says '^reload: +applied'
printf 'dn: uid=fu1,%s\nchangetype: modify\nreplace: mail\nmail: fu1@four.test\n' \
    "$SLAPD_PEOPLE" | ldap_admin_modify >/dev/null
check "a change after the reload is handled" \
    cs_wait_for 60 sh -c "[ \$(sqlite3 -readonly '$DB' \"SELECT count(*) FROM
    certificates WHERE status = 'active' AND addresses = 'fu1@four.test'\") -eq 2 ]"
check "the agent ran throughout" agent_alive
cs_done
