#!/bin/sh
# agent_ad_full.sh - Active Directory rounds and the periodic full pass.
# DirSync reports an attribute deleted outright as the attribute with no
# values; the merge with the stored copy must drop it (a givenName deleted:
# the name falls back to sn, and the user is reissued by that round, not a
# full pass).  Every [directory] full_reconcile_hours the next round reads
# every user afresh (no cookie) and sweeps; with nothing changed it
# reissues nobody.  Test builds shorten the period with
# CERTSYNC_FULL_RECONCILE_SECONDS (compiled in with --enable-failpoints only).
. "${CS_SRCDIR:?}/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"

CS_KEY_TYPE=ec:P-256
cs_setup
samba_start

samba_agent_conf "poll_interval = 3600" "full_reconcile_hours = 24"
cat >> "$CONF" <<CONF
[log]
level = info
CONF

DAVE="CN=dave,$SAMBA_USERS"
ERIN="CN=erin,$SAMBA_USERS"
ad_add_user dave dave@certsync.test "givenName: Dave" "sn: Stone" >/dev/null
ad_add_user erin erin@certsync.test "displayName: Erin Page" >/dev/null

subjects() {
	ad_get_attr "$1" userCertificate | while read -r b; do
		printf '%s' "$b" | base64 -d | openssl x509 -inform DER -noout -subject
	done
}
subject_is() { # DN TEXT: exactly two certificates, both with CN TEXT
	subjects "$1" > "$T/subjects" &&
	    [ "$(grep -c "CN *= *$2\$" "$T/subjects")" -eq 2 ] &&
	    [ "$(grep -c . "$T/subjects")" -eq 2 ]
}
n_issued() { grep -c ": issued " "$T/agent.log" || :; }
n_full() { grep -c "full_reconcile_hours asks" "$T/agent.log" || :; }
n_full_rounds() { grep -c "dirsync round: .*, full pass" "$T/agent.log" || :; }
# The round that logged the reissue (its summary line comes after the
# decisions it made) was an incremental one.
reissued_incrementally() {
	awk '/reissue: subject changed from CN=Dave Stone to CN=Stone/ { seen = 1; next }
	     seen && /dirsync round:/ { exit($0 ~ /full pass/) }
	     END { if (!seen) exit 1 }' "$T/agent.log"
}

n_decisions() {
	grep -Ec '^certsyncd: CN=[^:]*: (enroll|reissue|renew|revoke|unpublish|republish): ' \
	    "$T/agent.log" || :
}

# The first round has no cookie: a full pass too.  Every 8 s another.
CERTSYNC_FULL_RECONCILE_SECONDS=8 cs_agent_start
check "dave is enrolled with his given name and surname" \
    cs_wait_for 60 subject_is "$DAVE" "Dave Stone"
check "erin with her displayName" cs_wait_for 60 subject_is "$ERIN" "Erin Page"
check "4 certificates issued" test "$(n_issued)" -eq 4
decided=$(n_decisions)
full=$(n_full_rounds)
# A round's decisions are logged before its summary line.
check "the periodic full pass runs" cs_wait_for 30 sh -c \
    "[ \$(grep -c 'dirsync round: .*, full pass' '$T/agent.log') -gt $full ]"
check "it was asked for by full_reconcile_hours" test "$(n_full)" -ge 1
check "and decides nothing: every user is up to date" test "$(n_decisions)" -eq "$decided"

# Right after a full pass, so that the round the change rings for is an
# incremental one (the next full pass is 8 s away).
before=$(n_issued)
printf 'dn: %s\nchangetype: modify\ndelete: givenName\n' "$DAVE" | ad_modify >/dev/null
check "a givenName deleted outright: reissued with the surname alone" \
    cs_wait_for 60 subject_is "$DAVE" "Stone"
check "by the incremental round the change rang for" reissued_incrementally
check "only dave was reissued" test "$(n_issued)" -eq $((before + 2))
check "erin kept her certificates" subject_is "$ERIN" "Erin Page"
cs_agent_stop
check "no errors were logged" sh -c "! grep -i 'error' '$T/agent.log'"
cs_done
