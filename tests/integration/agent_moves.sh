#!/bin/sh
# agent_moves.sh - the directory changes under a job in flight.  The agent
# is killed mid-reissue (failpoint after-ARCHIVED), then the user's entry is
# renamed, or deleted, before it comes back.  Renamed: the new certificates
# end up on the entry's new DN, the old ones withdrawn and revoked.
# Deleted: every certificate of the user ends up on hold, then revoked
# (hold_days shortened by the test hook), none active, and the user's
# address is free for someone else.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodrdn ldapdelete openssl
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
AGENT="$CS_BUILDDIR/certsyncd"
once() { "$AGENT" -c "$CONF" --once >>"$T/agent.log" 2>&1; }
crash_at() { CERTSYNC_FAILPOINT=$1 "$AGENT" -c "$CONF" --once >>"$T/agent.log" 2>&1; }
mail_is() {
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$1" "$2" |
	    ldap_admin_modify >/dev/null
}
admin() { LDAPNOINIT=1 "$@" -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE"; }
published() { # DN ADDRESS: the entry holds exactly our active certificates
	cs_store_values "$2" > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	[ -s "$T/want" ] && cmp -s "$T/want" "$T/have"
}
# Runs --once until COMMAND holds: a retry waits out its backoff (5 s).
settles() { cs_wait_for 30 sh -c "\"$AGENT\" -c \"$CONF\" --once >>\"$T/agent.log\" 2>&1; $*"; }
crl_has() { openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text | grep -q "$1"; }
active_n() { ctl list --active | awk -v a="$1" 'NR > 1 && $NF == a' | wc -l; }

echo "# renamed while its reissue is in flight"
ldap_add_user mover mover@example.test "Mo Ver" Mo Ver >/dev/null
check "enrolled" once
OLD=$(cs_serial encryption mover@example.test)
mail_is "uid=mover,$SLAPD_PEOPLE" mover2@example.test
check_exit 137 "the agent dies after archiving" crash_at after-ARCHIVED
LINES_BEFORE_RENAME=$(wc -l <"$T/agent.log")
admin ldapmodrdn -r "uid=mover,$SLAPD_PEOPLE" uid=moved >/dev/null 2>&1
NEW_DN="uid=moved,$SLAPD_PEOPLE"
export CONF CS_BUILDDIR CS_SRCDIR T SLAPD_URI SLAPD_ADMIN_DN SLAPD_ADMIN_PW_FILE NEW_DN
check "the new certificates land on the new DN" \
    settles ". '$CS_SRCDIR/tests/integration/lib.sh' >/dev/null 2>&1; CONF='$CONF'; T='$T'; \
    c=\$(ctl list --active | grep -c ' mover2@example.test\$'); test \"\$c\" -eq 2"
check "the directory holds exactly them" published "$NEW_DN" mover2@example.test
check "the old certificate is on the CRL" crl_has "$OLD"
# Whether the resumed job met the old DN (and waited) or the watcher moved it
# first is a race; what must never happen is a publish recorded at the old DN.
check "no publish was recorded at the old DN after the rename" \
    sh -c "! tail -n +$((LINES_BEFORE_RENAME + 1)) '$T/agent.log' | \
        grep -q 'certificate(s) to uid=mover,'"

echo "# deleted while its reissue is in flight"
ldap_add_user leaver leaver@example.test "Lee Ver" Lee Ver >/dev/null
check "enrolled" once
L_OLD=$(ctl list --active | awk '$NF == "leaver@example.test" { print $3 }' | tr '\n' ' ')
mail_is "uid=leaver,$SLAPD_PEOPLE" leaver2@example.test
check_exit 137 "the agent dies after archiving" crash_at after-ARCHIVED
admin ldapdelete "uid=leaver,$SLAPD_PEOPLE" >/dev/null 2>&1
check "in the end nothing of the user is active" \
    settles ". '$CS_SRCDIR/tests/integration/lib.sh' >/dev/null 2>&1; CONF='$CONF'; T='$T'; \
    ! ctl list | grep -E '^(active|pending|superseded) ' | grep -q leaver"
for s in $L_OLD; do
	check "old certificate $s revoked" crl_has "$s"
done
check "the new ones are on hold (certificateHold)" sh -c \
    "openssl crl -inform DER -in '$T/crl/ca.crl' -noout -text | grep -q 'Certificate Hold'"
# Past hold_days (the test hook: 1 s; the next --once finds the hold due).
check "... and revoked for good past hold_days (cessationOfOperation)" cs_wait_for 10 sh -c \
    "CERTSYNC_HOLD_SECONDS=1 '$AGENT' -c '$CONF' --once >>'$T/agent.log' 2>&1; \
    openssl crl -inform DER -in '$T/crl/ca.crl' -noout -text | grep -q 'Cessation Of Operation'"
check "no job is left" sh -c "'$CS_BUILDDIR/certsyncctl' -c '$CONF' status | grep -q 'queued *0'"
ldap_add_user newcomer leaver2@example.test "New Comer" New Comer >/dev/null
check "the address is free for the next user" once
check "and the newcomer is enrolled with it" sh -c \
    "test \$('$CS_BUILDDIR/certsyncctl' -c '$CONF' list --active | grep -c ' leaver2@example.test\$') -eq 2"
cs_done
