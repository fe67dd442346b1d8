#!/bin/sh
# agent_ad_safety.sh - the safety catch against a real Samba AD DC: the
# service account's read right taken away under a running certsyncd
# (DirSync rounds, a full pass every 6 s through the test hook
# CERTSYNC_FULL_RECONCILE_SECONDS, failpoint builds only).
#
# Five users enrolled.  A deny ACE for the service account (list contents)
# goes on the base, in the running DC's own database, first in its access
# list: the base stays readable, the users below it are no longer listed.
# (An inherited deny would not do: the users' own explicit grants, such as
# Authenticated Users' read, come before inherited entries.)  DirSync,
# which rides on "Replicating Directory Changes", still sends every user,
# but the search that says which of them base, scope and filter select
# finds none.  The next full pass is held:
# one HELD error line, nothing put on hold, revoked or withdrawn (every
# certificate active and still in its user's entry, nobody on the CRL),
# certsyncctl status showing the five held users.  The ACE taken away
# again: the next full pass sees everyone, the held set empties by itself
# (logged once), and still nothing happened to anyone.
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "${CS_SRCDIR:?}/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"
if ! grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	echo "SKIP: $CS_BUILDDIR was not configured with --enable-failpoints"
	exit 77
fi

CS_KEY_TYPE=ec:P-256
cs_setup
samba_start
samba_agent_conf "poll_interval = 3600"
cat >> "$CONF" <<CONF
[log]
level = info
CONF
USERS="ann ben cid dot eve"
for u in $USERS; do
	ad_add_user "$u" "$u@certsync.test" "displayName: $u Example" >/dev/null
done

log_has() { grep -Eq -- "$1" "$T/agent.log"; }
log_count_is() {
	n=$(grep -Ec -- "$1" "$T/agent.log" || :)
	echo "$n lines match /$1/, wanted $2"; [ "$n" -eq "$2" ]
}
status_n() { ctl list | awk -v s="$1" 'NR > 1 && $1 == s' | wc -l; }
status_is() { n=$(status_n "$1"); echo "$n $1, wanted $2"; [ "$n" -eq "$2" ]; }
entries_show_theirs() { # every user's entry holds exactly its two
	bad=0
	for u in $USERS; do
		n=$(ad_get_attr "CN=$u,$SAMBA_USERS" userCertificate | grep -c . || :)
		[ "$n" -eq 2 ] || { echo "$u: $n value(s)"; bad=1; }
	done
	return $bad
}
# No CRL lists anyone (certsyncd may write one with no entries when due).
crl_lists_nobody() {
	[ ! -e "$T/crl/ca.crl" ] || ! openssl crl -inform DER -in "$T/crl/ca.crl" \
	    -noout -text | grep -q 'Serial Number:'
}
nothing_happened() {
	status_is active 10 && status_is on-hold 0 && status_is revoked 0 &&
	    entries_show_theirs && crl_lists_nobody
}
full_passes() { grep -c 'dirsync round: .*, full pass' "$T/agent.log" || :; }
more_full_passes() { [ "$(full_passes)" -gt "$1" ]; }

CERTSYNC_FULL_RECONCILE_SECONDS=6 cs_agent_start
check "10 certificates active" cs_wait_for 60 status_is active 10
check "every entry shows its two" cs_wait_for 30 entries_show_theirs

echo "# the service account may no longer read the users"
SAM=$T/samba/private/sam.ldb
SID=$(ldbsearch -H "$SAM" --configfile="$SAMBA_CONF" -b "$SAMBA_SVC_DN" -s base \
    objectSid | sed -n 's/^objectSid: //p')
ldbsearch -H "$SAM" --configfile="$SAMBA_CONF" --controls=sd_flags:1:4 \
    -b "$SAMBA_USERS" -s base nTSecurityDescriptor |
    sed -e ':a' -e '$!N' -e 's/\n //' -e 'ta' -e 'P' -e 'D' |
    sed -n 's/^nTSecurityDescriptor: //p' > "$T/base.sddl"
check "the base's access list read" grep -q '^D:[A-Z]*(' "$T/base.sddl"
# Deny first, as a DACL must order it: list contents, on the base itself.
sed "s/D:\\([A-Z]*\\)(/D:\\1(D;;LC;;;$SID)(/" "$T/base.sddl" > "$T/deny.sddl"
sd_ldif() {
	printf 'dn: %s\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: %s\n' \
	    "$SAMBA_USERS" "$(cat "$1")"
}
svc_finds() { # N: a search as the service account selects N users
	n=$(ad_svc_search -LLL -b "$SAMBA_USERS" \
	    '(&(objectCategory=person)(objectClass=user)(mail=*))' dn | grep -c '^dn:' || :)
	echo "the service account selects $n user(s), wanted $1"; [ "$n" -eq "$1" ]
}
check "the service account selects the five users" svc_finds 5
sd_ldif "$T/deny.sddl" > "$T/deny.ldif"
check "the deny ACE goes on the base" ldbmodify -H "$SAM" --configfile="$SAMBA_CONF" \
    --controls=sd_flags:1:4 "$T/deny.ldif"
check "the service account now selects nobody" svc_finds 0
check "the next full pass is held, in one error line" \
    cs_wait_for 60 log_has 'HELD by the safety catch: 5 user\(s\)'
F=$(full_passes)
check "another full pass comes and goes" cs_wait_for 30 more_full_passes "$F"
check "still one HELD line" log_count_is 'HELD by the safety catch' 1
check "nothing was put on hold, revoked or withdrawn" nothing_happened
ctl status > "$T/status.out"
check "certsyncctl status shows the five held users" \
    grep -Eq '^held: +5 user\(s\) since .*: .*found 0 of the 5 known users' "$T/status.out"

echo "# the right given back"
sd_ldif "$T/base.sddl" > "$T/restore.ldif"
check "the deny ACE taken away" ldbmodify -H "$SAM" --configfile="$SAMBA_CONF" \
    --controls=sd_flags:1:4 "$T/restore.ldif"
check "the service account selects the five users again" svc_finds 5
# A pass that reads while the right comes back may see some users only:
# the rest stay held, quietly, until the next pass sees them.
check "the held set empties by itself, logged" \
    cs_wait_for 60 log_has '[0-9]+ held user\(s\) are in the directory again; the held set is empty'
check "... once" log_count_is 'the held set is empty' 1
ctl status > "$T/status.out"
check "certsyncctl status: nothing held" grep -Eq '^held: +none$' "$T/status.out"
check "nothing was put on hold, revoked or withdrawn" nothing_happened
cs_agent_stop
cs_done
