#!/bin/sh
# agent_ad_recover.sh - certsyncd against a real Samba AD DC when what it
# resumes from cannot be used, and when DirSync is refused to its account.
#
# A DirSync cookie the DC refuses (truncated in the state database while
# the agent is down): the agent says so, does a full pass compared with
# what it knows, reissues the one user changed while it was down and nobody
# else, and stores a usable cookie again.  A checkpoint from another DC
# (its dsServiceName changed): the same, without sending the cookie.
# source = auto with an account that lost "Replicating Directory Changes":
# DirSync answers insufficientAccessRights (not taken for a refused cookie),
# the agent falls back to uSNChanged rounds without reissuing anyone, and
# enrollment, an address change and a delete (on hold, in the CRL) work there.
. "${CS_SRCDIR:?}/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"

CS_KEY_TYPE=${CS_KEY_TYPE:-ec:P-256}
cs_setup
cs_need sqlite3
samba_start

# Samba sends no change notification for a deletion: the round every
# poll_interval finds those.
samba_agent_conf "source = auto" "poll_interval = 5"
cat >> "$CONF" <<CONF
[log]
level = info
CONF
DB=$T/state/state.db

A="CN=alice,$SAMBA_USERS"
B="CN=bob,$SAMBA_USERS"
C="CN=carol,$SAMBA_USERS"
D="CN=dave,$SAMBA_USERS"
ad_add_user alice alice@certsync.test "displayName: Alice Smith" >/dev/null
ad_add_user bob bob@certsync.test "displayName: Bob Jones" >/dev/null
ad_add_user carol carol@certsync.test "displayName: Carol King" >/dev/null

certs_of() { ad_certs_of "$1"; }
ncerts() { ad_get_attr "$1" userCertificate | grep -c . ; }
has_cert_for() { certs_of "$1" | grep -q "email:$2\\b"; }
lacks_cert_for() { ! certs_of "$1" | grep -q "email:$2\\b"; }
subject_has() { certs_of "$1" | grep -q "$2"; }
old_bob_gone() { ! certs_of "$B" | grep -v "Bob Jones-Miller" | grep -q "Bob Jones"; }
log_has() { grep -Eq -- "$1" "$T/agent.log"; }
count_is() { [ "$("$@" 2>/dev/null | head -1)" = "$EXPECT" ]; }
sql() { sqlite3 -batch "$DB" "$@"; }
# The stored DirSync checkpoint: its cookie in hex, its server.
cookie_hex() { sql "SELECT hex(cookie) FROM checkpoints WHERE source = 'dirsync'"; }
cookie_server() { sql "SELECT server_id FROM checkpoints WHERE source = 'dirsync'"; }
# planned_only NAME LOG: every decision in agent.LOG.log is about CN=NAME.
planned_only() {
	grep -E '^certsyncd: CN=[^:]*: (enroll|reissue|renew|revoke|unpublish|republish): ' \
	    "$T/agent.$2.log" > "$T/planned" || :
	[ -s "$T/planned" ] && ! grep -v "^certsyncd: CN=$1," "$T/planned"
}
# Ends the agent (it finishes its jobs first) and keeps its log as agent.NAME.log.
stop_as() { cs_agent_stop; mv "$T/agent.log" "$T/agent.$1.log"; }
DSNAME=$(ad_search -LLL -b "" -s base '(objectClass=*)' dsServiceName |
    sed -n 's/^dsServiceName: //p')
# What checkpoints are stored with: the DC's name and its database's
# invocationId (new after a restore from backup).
INVOCATION=$(ad_guid_text "$(ad_get_attr "$DSNAME" invocationId)")
SERVER_ID="$DSNAME invocationId=$INVOCATION"

# ---- the first run: DirSync ------------------------------------------------------
cs_agent_start
check "enrolled alice, bob and carol over DirSync" \
    cs_wait_for 60 log_has "refresh complete: 3 planned"
check "the source is DirSync" log_has "dirsync rounds"
EXPECT=2 check "alice's two certificates are published" cs_wait_for 60 count_is ncerts "$A"
EXPECT=2 check "bob's too" cs_wait_for 60 count_is ncerts "$B"
EXPECT=2 check "carol's too" cs_wait_for 60 count_is ncerts "$C"
stop_as first
check "six certificates issued, two each" \
    test "$(grep -c ": issued " "$T/agent.first.log")" -eq 6
check "a DirSync checkpoint is stored, named after this DC and database" \
    test "$(cookie_server)" = "$SERVER_ID"
GOOD=$(cookie_hex) || GOOD=
check "the stored cookie is a DirSync cookie (MSDS)" \
    sh -c "case '$GOOD' in 4D534453*) ;; *) exit 1 ;; esac"

# ---- B: a cookie the DC refuses --------------------------------------------------------
# Half of it: the DC cannot unmarshal the rest.
sql "UPDATE checkpoints SET cookie = substr(cookie, 1, length(cookie) / 2)
    WHERE source = 'dirsync'"
HALF=$(( ${#GOOD} / 2 / 2 ))	# bytes; two hex digits each
check "the stored cookie is truncated" \
    test "$(cookie_hex)" = "$(printf '%s' "$GOOD" | cut -c1-$((HALF * 2)))"
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Bob Jones-Miller\n' "$B" |
    ad_modify >/dev/null
cs_agent_start
check "the refused cookie is reported" \
    cs_wait_for 60 log_has "refused the stored DirSync cookie"
check "a full DirSync pass follows" \
    cs_wait_for 60 log_has "dirsync round: [0-9]+ object\\(s\\), full pass"
check "the pass plans bob alone; the others are up to date" \
    cs_wait_for 60 log_has "refresh complete: 1 planned, 0 skipped, [0-9]+ up to date"
check "bob, changed while the agent was down, is reissued" \
    cs_wait_for 60 subject_has "$B" "Bob Jones-Miller"
check "and his old certificates are withdrawn" cs_wait_for 30 old_bob_gone
EXPECT=2 check "bob has exactly two values" cs_wait_for 30 count_is ncerts "$B"
check "a usable cookie is stored again" \
    cs_wait_for 30 sh -c "sqlite3 '$DB' \"SELECT hex(cookie) FROM checkpoints
        WHERE source = 'dirsync'\" | grep -q '^4D534453'"
stop_as refused
check "only bob was reissued (two certificates)" \
    test "$(grep -c ": issued " "$T/agent.refused.log")" -eq 2
check "nobody else was planned" planned_only bob refused

# ---- C: a checkpoint from another DC ---------------------------------------------------
OTHER="CN=NTDS Settings,CN=DC2,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,$SAMBA_BASE"
sql "UPDATE checkpoints SET server_id = '$OTHER' WHERE source = 'dirsync'"
check "the checkpoint now names another DC" test "$(cookie_server)" = "$OTHER"
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: carol.king@certsync.test\n-\nreplace: proxyAddresses\nproxyAddresses: SMTP:carol.king@certsync.test\n' "$C" |
    ad_modify >/dev/null
cs_agent_start
check "the foreign checkpoint is reported" \
    cs_wait_for 60 log_has "checkpoint is from another domain controller, or from before a restore \\(CN=NTDS Settings,CN=DC2,"
check "a full DirSync pass follows" \
    cs_wait_for 60 log_has "dirsync round: [0-9]+ object\\(s\\), full pass"
check "the pass plans carol alone" \
    cs_wait_for 60 log_has "refresh complete: 1 planned, 0 skipped, [0-9]+ up to date"
check "carol's address change is seen" \
    cs_wait_for 60 has_cert_for "$C" carol.king@certsync.test
check "and her old certificates are withdrawn" \
    cs_wait_for 30 lacks_cert_for "$C" carol@certsync.test
check "the checkpoint names this DC again" \
    cs_wait_for 30 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT server_id FROM
        checkpoints WHERE source = 'dirsync'\")\" = '$SERVER_ID' ]"
stop_as foreign
check "its cookie was not sent (nothing refused)" \
    sh -c "! grep -q 'refused' '$T/agent.foreign.log'"
check "only carol was reissued (two certificates)" \
    test "$(grep -c ": issued " "$T/agent.foreign.log")" -eq 2
check "nobody else was planned" planned_only carol foreign

# ---- the same DC restored from a backup: a new invocationId ---------------------------
sql "UPDATE checkpoints SET server_id = '$DSNAME invocationId=00000000-0000-0000-0000-000000000001' WHERE source = 'dirsync'"
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Alice Restored\n' "$A" |
    ad_modify >/dev/null
cs_agent_start
check "a checkpoint of the DC's old database is not used" \
    cs_wait_for 60 log_has "from before a restore \\($DSNAME invocationId=00000000-"
check "a full DirSync pass follows, planning alice alone" \
    cs_wait_for 60 log_has "refresh complete: 1 planned, 0 skipped, [0-9]+ up to date"
check "alice's change is seen" cs_wait_for 60 subject_has "$A" "Alice Restored"
check "the checkpoint names this database again" \
    cs_wait_for 30 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT server_id FROM
        checkpoints WHERE source = 'dirsync'\")\" = '$SERVER_ID' ]"
stop_as restored
check "only alice was reissued" test "$(grep -c ": issued " "$T/agent.restored.log")" -eq 2

# ---- a checkpoint of an older certsync: the DC's name alone ---------------------------
sql "UPDATE checkpoints SET server_id = '$DSNAME' WHERE source = 'dirsync'"
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Alice Upgraded\n' "$A" |
    ad_modify >/dev/null
cs_agent_start
check "with the name alone, the cookie is used: alice's change is seen" \
    cs_wait_for 60 subject_has "$A" "Alice Upgraded"
check "the next checkpoint carries the invocationId" \
    cs_wait_for 30 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT server_id FROM
        checkpoints WHERE source = 'dirsync'\")\" = '$SERVER_ID' ]"
stop_as upgraded
check "no full pass" sh -c "! grep -q 'full pass' '$T/agent.upgraded.log'"
check "only alice was reissued, again" test "$(grep -c ": issued " "$T/agent.upgraded.log")" -eq 2

# ---- A: DirSync refused to the account: uSNChanged rounds ---------------------------------
# Take "Replicating Directory Changes" from the service account on the
# domain's root (the running DC's own database; it checks access on every
# search), keeping its other rights (write the certificate attributes,
# list Deleted Objects).
SAM=$T/samba/private/sam.ldb
SID=$(ldbsearch -H "$SAM" --configfile="$SAMBA_CONF" -b "$SAMBA_SVC_DN" -s base \
    objectSid | sed -n 's/^objectSid: //p')
ldbsearch -H "$SAM" --configfile="$SAMBA_CONF" --controls=sd_flags:1:4 \
    -b "$SAMBA_BASE" -s base nTSecurityDescriptor |
    sed -e ':a' -e '$!N' -e 's/\n //' -e 'ta' -e 'P' -e 'D' |
    sed -n 's/^nTSecurityDescriptor: //p' > "$T/root.sddl"
ACE="(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;$SID)"
check "the service account holds the replication right" grep -qF "$ACE" "$T/root.sddl"
awk -v a="$ACE" '{ i = index($0, a); if (i) $0 = substr($0, 1, i - 1) substr($0, i + length(a)); print }' \
    "$T/root.sddl" > "$T/root-norepl.sddl"
printf 'dn: %s\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: %s\n' \
    "$SAMBA_BASE" "$(cat "$T/root-norepl.sddl")" > "$T/norepl.ldif"
check "removing it" ldbmodify -H "$SAM" --configfile="$SAMBA_CONF" \
    --controls=sd_flags:1:4 "$T/norepl.ldif"
check_exit 50 "the DC now refuses DirSync to the account (insufficientAccessRights)" \
    ad_svc_search -b "$SAMBA_BASE" -E '!dirSync=0/0/' '(objectClass=user)' dn

cs_agent_start
check "DirSync's refusal is reported, with the fallback" \
    cs_wait_for 60 log_has "DirSync is refused to this account .*; using uSNChanged rounds instead"
check "a full uSNChanged pass follows" \
    cs_wait_for 60 log_has "usn round: [0-9]+ object\\(s\\), full pass"
check "which plans nothing: everyone is up to date" \
    cs_wait_for 60 log_has "refresh complete: 0 planned, 0 skipped, [0-9]+ up to date"
ctl status > "$T/status.out"
check "the status names the source" grep -q '^source: *usn ' "$T/status.out"
check "and the connection's rounds" grep -q '^connection: .*; usn rounds' "$T/status.out"

ad_add_user dave dave@certsync.test "displayName: Dave Brown" >/dev/null
check "a new user is enrolled over uSNChanged rounds" \
    cs_wait_for 60 has_cert_for "$D" dave@certsync.test
EXPECT=2 check "dave has exactly two values" cs_wait_for 30 count_is ncerts "$D"
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: dave.brown@certsync.test\n-\nreplace: proxyAddresses\nproxyAddresses: SMTP:dave.brown@certsync.test\n' "$D" |
    ad_modify >/dev/null
check "an address change reissues" \
    cs_wait_for 60 has_cert_for "$D" dave.brown@certsync.test
check "and withdraws the old certificates" \
    cs_wait_for 30 lacks_cert_for "$D" dave@certsync.test
check "the superseded ones are revoked (affiliationChanged)" \
    cs_wait_for 30 log_has "revoked .* \\(affiliationChanged\\)"
SIG=$(cs_serial signing dave.brown@certsync.test)
ENC=$(cs_serial encryption dave.brown@certsync.test)
check "dave's new certificates are active in the store" test -n "$SIG" -a -n "$ENC"
ad_modify <<LDIF >/dev/null
dn: $D
changetype: delete
LDIF
check "deleting dave puts his certificates on hold" \
    cs_wait_for 60 log_has "hold: the user is gone from the directory"
check "dave has no active certificates left" \
    cs_wait_for 30 sh -c "! '$CTL' -c '$CONF' list --active | grep -q dave"
# crl_has SERIAL: the CRL lists the serial (hex, any case, colons or not).
crl_has() {
	want=$(printf '%s' "$1" | tr -d ':' | tr '[:lower:]' '[:upper:]')
	[ -n "$want" ] && openssl crl -in "$T/crl/ca.crl.pem" -noout -text |
	    tr '[:lower:]' '[:upper:]' | grep -q "SERIAL NUMBER: *$want\$"
}
check "the CRL lists dave's signing certificate" cs_wait_for 30 crl_has "$SIG"
check "and his encryption certificate" cs_wait_for 30 crl_has "$ENC"
stop_as usn
check "insufficientAccessRights was not taken for a refused cookie" \
    sh -c "! grep -q 'refused the stored DirSync cookie' '$T/agent.usn.log'"
check "four certificates issued in uSNChanged mode: dave's, twice" \
    test "$(grep -c ": issued " "$T/agent.usn.log")" -eq 4
EXPECT=2 check "alice still has two certificates" count_is ncerts "$A"
EXPECT=2 check "bob too" count_is ncerts "$B"
EXPECT=2 check "carol too" count_is ncerts "$C"
check "no errors were logged" sh -c "! grep -h 'certsyncd: error' '$T'/agent.*.log"
check "no warnings but the fallback's (no reconnects, no skipped users)" \
    sh -c "! grep -h 'certsyncd: warning' '$T'/agent.*.log | grep -v 'DirSync is refused to this account'"
cs_done
