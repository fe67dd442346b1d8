#!/bin/sh
# agent_progress.sh - a mass event is visible while it runs, and only its
# progress is logged at notice.
#
# 60 users enrolled by certsyncd, then one ldapmodify renames all their
# domains; the runner's batches are slowed down (CERTSYNC_BATCH_DELAY_MS,
# a test build's knob) and the progress line asked for every second
# (CERTSYNC_PROGRESS_EVERY; 10 s otherwise), so the backlog can be watched.
# Proves that:
#  - certsyncctl status shows the backlog, the rate over the last minute and
#    an ETA while jobs wait ("progress: N job(s) waiting, M done in the last
#    minute, done in about ..."), and the key pool's level;
#  - certsyncd logs progress lines while jobs wait;
#  - at notice (the default level) the mass rename logs at most 20 planning
#    lines (in any 10 s; a line then says how many more were planned), and
#    no per-user issue, publish or revoke line once more than 20 jobs are
#    due: the log grows by fewer lines than there are users;
#  - in the end every user has new certificates, and status shows nothing
#    waiting.
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify awk
if ! grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	echo "SKIP: $CS_BUILDDIR was not configured with --enable-failpoints"
	exit 77
fi
CS_KEY_TYPE=ec:P-256
N=60
cs_setup
slapd_start
cs_agent_conf
printf '[certificates]\nkey_pool = 16\n' >> "$CONF"

users() { # DOMAIN changetype: the N users' entries, or their new mail
	awk -v n="$N" -v d="$1" -v t="$2" -v base="$SLAPD_PEOPLE" 'BEGIN {
		for (i = 1; i <= n; i++) {
			printf "dn: uid=p%d,%s\nchangetype: %s\n", i, base, t
			if (t == "add")
				printf "objectClass: inetOrgPerson\nuid: p%d\ncn: P %d\n" \
				    "sn: P\nmail: p%d@%s\n\n", i, i, i, d
			else
				printf "replace: mail\nmail: p%d@%s\n\n", i, d
		}
	}'
}
active_in() { [ "$(ctl list --active | grep -c "@$1\$")" -eq $((2 * N)) ]; }
status_says() { ctl status > "$T/status.out" 2>&1 && grep -Eq -- "$1" "$T/status.out"; }

users old.test add | ldap_admin_modify >/dev/null
export CERTSYNC_BATCH_DELAY_MS=1500 CERTSYNC_PROGRESS_EVERY=1
cs_agent_start
check "the $N users are enrolled" cs_wait_for 120 active_in old.test
check "status shows the key pool" status_says '^key pool: +[0-9]+ of 16 keys$'
LINES=$(wc -l < "$T/agent.log")
users new.test modify | ldap_admin_modify >/dev/null
check "status shows the backlog, the rate over the last minute and an ETA" \
    cs_wait_for 120 status_says \
    '^progress: +[1-9][0-9]* job\(s\) waiting, [1-9][0-9]* done in the last minute, done in about [0-9]+[hms]'
cat "$T/status.out"
check "the mass reissue completes" cs_wait_for 180 active_in new.test
check "... and status shows nothing waiting" \
    cs_wait_for 30 status_says '^progress: +0 job\(s\) waiting'
tail -n +"$((LINES + 1))" "$T/agent.log" > "$T/event.log"
check "progress lines were logged while jobs waited" \
    grep -Eq '^certsyncd: progress: [1-9][0-9]* job\(s\) waiting, [0-9]+ done in the last minute' \
    "$T/event.log"
check "at most 20 planning lines at notice" \
    test "$(grep -c ': reissue: ' "$T/event.log")" -le 20
check "the log grew by fewer lines than there are users ($(wc -l < "$T/event.log") lines)" \
    test "$(wc -l < "$T/event.log")" -lt "$N"
cs_agent_stop
cs_done
