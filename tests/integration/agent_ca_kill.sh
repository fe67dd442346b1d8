#!/bin/sh
# agent_ca_kill.sh - the CA process killed under load: the agent notices,
# restarts it, and loses nothing.
#
# Proves, with certsyncd against a real slapd reissuing 50 users at once
# (every address changed in one go), while its CA process is killed with
# SIGKILL three times (once just before the change, twice during it), and
# the CA process started after the first dies (a test build's failpoint)
# after its first audited signature, before its reply: each death is
# logged at once with how it died, `certsyncctl status` says "CA process: restarting (...)" while it
# is down, and a new CA process (another pid) is up within seconds; in the
# end every user has exactly two active certificates for the new address,
# exactly those in the directory; no row is pending or superseded and no
# job is queued; every old encryption key is archived; the CRL lists every
# revoked certificate and every old one; and every certificate the CA
# processes signed (each "sign" line of their audit log) is accounted for:
# an active certificate of its user, or revoked and on the CRL - a
# signature whose reply died with its CA process is found in the audit
# log (pipeline/ca_ledger.c) and revoked, never left valid and unknown.
# Then, with a syntax error appended to the file on disk (not reloaded),
# a CA process killed once more comes back up running: it is handed the
# configuration the agent runs on, not the file.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify openssl pgrep awk sort comm
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
N=50
AUDIT=$T/ca/audit.log

i=1
while [ "$i" -le "$N" ]; do
	printf 'dn: uid=u%d,%s\nobjectClass: inetOrgPerson\nuid: u%d\ncn: User %d\nsn: U%d\nmail: u%d@example.test\n\n' \
	    "$i" "$SLAPD_PEOPLE" "$i" "$i" "$i" "$i"
	i=$((i + 1))
done > "$T/users.ldif"
LDAPNOINIT=1 ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" \
    -f "$T/users.ldif" >/dev/null

active_count() { ctl list --active | grep -c "@example.test\$" || :; }
moved_count() { ctl list --active | grep -c "\.moved@example.test\$" || :; }
count_is() { [ "$("$1")" -eq "$2" ]; }
at_least() { [ "$("$1")" -ge "$2" ]; }
ca_pid() { pgrep -P "$AGENT_PID" -x certsync-ca; }
restarting() { ctl status | grep -Eq '^CA process: +restarting \(.*killed by signal 9'; }

CERTSYNC_CA_DIE_BEFORE_REPLY=$T/die-once
export CERTSYNC_CA_DIE_BEFORE_REPLY
cs_agent_start
check "all $N users enrolled" cs_wait_for 120 count_is active_count $((2 * N))
ctl list --active | awk 'NR > 1 && $2 == "encryption" { print $3 }' | sort > "$T/old.enc"
ctl list --active | awk 'NR > 1 { print $3 }' | sort > "$T/old.all"
FIRST=$(ca_pid)

echo "# the CA process is killed once before every address changes at once, twice during"
# The one started after this kill dies (a test build's failpoint) right
# after its first audited signature, before the reply can leave.
: > "$T/die-once"
seen_restarting=0
kill_ca() { # K: kills the CA process, waits for the next one
	pid=$(ca_pid || :)
	check "kill $1: a CA process is running (${pid:-none})" test -n "$pid"
	[ -n "$pid" ] && kill -9 "$pid"
	if cs_wait_for 5 restarting; then seen_restarting=$((seen_restarting + 1)); fi
	check "kill $1: a new CA process is up within 20 s" \
	    cs_wait_for 20 sh -c 'p=$(pgrep -P "$1" -x certsync-ca) && [ "$p" != "$2" ]' \
	    sh "$AGENT_PID" "$pid"
}
kill_ca 1
check "... and it took the failpoint's file" test ! -e "$T/die-once"
i=1
while [ "$i" -le "$N" ]; do
	printf 'dn: uid=u%d,%s\nchangetype: modify\nreplace: mail\nmail: u%d.moved@example.test\n\n' \
	    "$i" "$SLAPD_PEOPLE" "$i"
	i=$((i + 1))
done | ldap_admin_modify >/dev/null
for k in 2 3; do
	cs_wait_for 120 at_least moved_count $(((k - 1) * 2 * N / 3)) || :
	kill_ca "$k"
done
check "status said \"CA process: restarting (... killed by signal 9 ...)\" ($seen_restarting of 3)" \
    test "$seen_restarting" -ge 1
check "every user reissued" cs_wait_for 180 count_is moved_count $((2 * N))
check "no job is left" cs_wait_for 60 sh -c '"$1" -c "$2" status | grep -Eq "^  queued +0$"' \
    sh "$CTL" "$CONF"
check "the agent logged each death, with how it died" \
    test "$(grep -c 'the CA process stopped: .*killed by signal 9' "$T/agent.log")" -eq 3
check "... and the one that died before its reply" \
    grep -q 'the CA process stopped: .*(exit 137)' "$T/agent.log"
check "its certificate, signed but never recorded, was found in its audit log" \
    grep -q 'was signed by the CA process (for certsyncd\[[0-9]*\]) but never recorded' "$T/agent.log"
check "the CA process is not the first one any more" test "$(ca_pid)" != "$FIRST"

echo "# restarted while the file on disk is broken: it runs on the agent's configuration"
cp "$CONF" "$T/good.conf"
printf '[ca\n' >> "$CONF"
BEFORE=$(ca_pid)
kill -9 "$BEFORE"
ca_up() { # a CA process other than $BEFORE that status calls running
	p=$(ca_pid) && [ "$p" != "$BEFORE" ] &&
	    "$CTL" -c "$T/good.conf" status | grep -Eq "^CA process: +running \(pid $p\)"
}
check "a new CA process is up and running although the file is broken" cs_wait_for 30 ca_up
check "... and it did not read the file (no error about it in the log)" \
    sh -c '! grep -q "certsync.conf: line" "$1"' sh "$T/agent.log"
cp "$T/good.conf" "$CONF"
cs_agent_stop

echo "# nothing lost"
published_ok=0
i=1
while [ "$i" -le "$N" ]; do
	cs_store_values "u$i.moved@example.test" > "$T/want"
	cs_dir_values "uid=u$i,$SLAPD_PEOPLE" userCertificate > "$T/have"
	[ "$(wc -l < "$T/want")" -eq 2 ] && cmp -s "$T/want" "$T/have" &&
	    published_ok=$((published_ok + 1))
	i=$((i + 1))
done
check "every user: two active certificates, exactly those in the directory ($published_ok of $N)" \
    test "$published_ok" -eq "$N"
check "no row is pending or superseded" sh -c '! "$1" -c "$2" list | grep -Eq "^(pending|superseded)"' \
    sh "$CTL" "$CONF"
missing=0
for s in $(cat "$T/old.enc"); do
	[ -f "$T/archive/encryption-$s.p12" ] || missing=$((missing + 1))
done
check "every old encryption key is archived ($(wc -l < "$T/old.enc") keys, $missing missing)" \
    test "$missing" -eq 0
openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text |
    sed -n 's/^ *Serial Number: *//p' | sort > "$T/crl.serials"
ctl list | awk 'NR > 1 && $1 == "revoked" { print $3 }' | sort > "$T/revoked"
check "the CRL lists every revoked certificate ($(wc -l < "$T/revoked"))" \
    test -z "$(comm -23 "$T/revoked" "$T/crl.serials")"
check "... and every old one" test -z "$(comm -23 "$T/old.all" "$T/crl.serials")"
sed -n 's/.*	sign	serial=\([0-9A-F]*\)	.*/\1/p' "$AUDIT" | sort > "$T/signed"
ctl list --active | awk 'NR > 1 { print $3 }' | sort > "$T/active"
sort -u "$T/active" "$T/crl.serials" > "$T/accounted"
check "every signature in the CA's audit log ($(wc -l < "$T/signed")) is active or on the CRL" \
    test -z "$(comm -23 "$T/signed" "$T/accounted")"
check "... more than the $((4 * N)) kept were signed ($(wc -l < "$T/signed"))" \
    test "$(wc -l < "$T/signed")" -gt $((4 * N))
cs_done
