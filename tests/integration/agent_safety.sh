#!/bin/sh
# agent_safety.sh - the safety catch against a real slapd: a directory
# mistake never revokes an organisation.
#
# Ten users enrolled by a running certsyncd.  Then, each time with one
# HELD error line and nothing revoked, put on hold or withdrawn (the CRL
# unchanged, every certificate still active and still in the directory),
# certsyncctl status and plan showing the held set:
#  - source = poll: a [directory] filter typo that matches nobody, loaded
#    with SIGHUP; later polls hold the same users again without a second
#    error line.  certsyncctl release lets the pass through: all ten put on
#    hold (withdrawn from the directory, certificateHold on the CRL).  The
#    filter fixed (SIGHUP): the holds are lifted, the same certificates
#    published again, the CRL empty again;
#  - source = poll: the service account's read right narrowed (acl.ldif's
#    rule {1} without mail: the filter (mail=*) matches nobody for it);
#    the right restored: the held set empties by itself (logged), nothing
#    happened to anyone;
#  - source = syncrepl: the filter typo again (the reload drops the cookie:
#    a full refresh with the new filter, whose sweep finds nobody); fixed:
#    empties by itself;
#  - source = syncrepl: a wrong base (ou=services, which exists and holds
#    no users); the held set survives a restart, and certsyncd --once exits
#    65 while it holds anyone; fixed: empties by itself;
#  - source = syncrepl, persistent: single deletions one after the other
#    (each handled before the next): the first three go on hold, the
#    fourth within the hour is held.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify ldapdelete openssl
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
cat >> "$CONF" <<CONF
poll_interval = 5
source = poll
[daemon]
pid_file = $T/certsyncd.pid
CONF
FILTER='(&(objectClass=inetOrgPerson)(mail=*))'
TYPO='(&(objectClass=inetOrgPerson)(mial=*))'
USERS="u1 u2 u3 u4 u5 u6 u7 u8 u9 u10"
for u in $USERS; do
	ldap_add_user "$u" "$u@example.test" "User $u" >/dev/null
done

# set_dir KEY VALUE: [directory] KEY in the configuration (added if absent).
set_dir() {
	awk -v k="$1" -v v="$2" '
	    $0 == "[directory]" { print; sec = 1; next }
	    /^\[/ { if (sec && !done) { print k " = " v; done = 1 } sec = 0 }
	    sec && index($0, k " = ") == 1 { if (!done) print k " = " v; done = 1; next }
	    { print }
	    END { if (sec && !done) print k " = " v }' "$CONF" > "$T/conf.new"
	mv "$T/conf.new" "$CONF"
}
reload() { log_mark; kill -HUP "$AGENT_PID"; }
touch "$T/agent.log"
LOG_FROM=0
log_mark() { LOG_FROM=$(wc -l < "$T/agent.log"); }
log_now() { tail -n +"$((LOG_FROM + 1))" "$T/agent.log"; }
log_has() { log_now | grep -Eq -- "$1"; }
log_count_is() {
	n=$(log_now | grep -Ec -- "$1" || :)
	echo "$n lines match /$1/, wanted $2"
	log_now | grep -E -- "$1" || :
	[ "$n" -eq "$2" ]
}

status_n() { ctl list | awk -v s="$1" 'NR > 1 && $1 == s' | wc -l; }
status_is() { # STATUS N: exactly N certificates have STATUS
	n=$(status_n "$1"); echo "$n $1 certificate(s), wanted $2"; [ "$n" -eq "$2" ]
}
# Every user's entry shows exactly its two certificates, or none ("0").
dir_shows() { # 2|0
	bad=0
	for u in $USERS; do
		n=$(cs_dir_values "uid=$u,$SLAPD_PEOPLE" 'userCertificate;binary' | wc -l)
		[ "$n" -eq "$1" ] || { echo "$u: $n value(s), wanted $1"; bad=1; }
	done
	return $bad
}
# The CRL's entries, "SERIAL REASON" sorted (nothing without a CRL, as for an empty one).
crl_entries() {
	[ -f "$T/crl/ca.crl" ] || return 0	# no CRL lists nobody, as an empty one
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text | awk '
	    /Serial Number:/ { if (s) print s, r; s = $3; r = "-" }
	    /X509v3 CRL Reason Code:/ { getline; gsub(/^ +/, ""); r = $0; gsub(/ /, "", r) }
	    END { if (s) print s, r }' | sort
}
crl_unchanged() {
	crl_entries > "$T/crl.now"
	diff "$T/crl.before" "$T/crl.now"
}
crl_holds_all() { # every serial of the store is on the CRL as certificateHold
	crl_entries > "$T/crl.now"
	n=$(grep -c ' CertificateHold$' "$T/crl.now" || :)
	echo "$n entries are CertificateHold, wanted 20"; cat "$T/crl.now"
	[ "$n" -eq 20 ] && [ "$(wc -l < "$T/crl.now")" -eq 20 ]
}
crl_empty() {
	crl_entries > "$T/crl.now"; cat "$T/crl.now"
	[ ! -s "$T/crl.now" ]
}
# What the directory shows now, every user, every value: to compare.
dir_snapshot() {
	for u in $USERS; do
		cs_dir_values "uid=$u,$SLAPD_PEOPLE" 'userCertificate;binary' |
		    sed "s/^/$u /"
	done
}
nothing_happened() {
	status_is active 20 && status_is on-hold 0 && status_is revoked 0 &&
	    crl_unchanged && dir_shows 2
}
status_held() { # N
	ctl status > "$T/status.out"
	sed -n '/^held:/,/^on hold:/p' "$T/status.out"
	grep -Eq "^held: +$1 user\\(s\\) since [0-9-]+ [0-9:]+Z: .*$2" "$T/status.out"
}
status_not_held() { ctl status > "$T/status.out"; grep -Eq '^held: +none$' "$T/status.out"; }
plan_marks() { # N: certsyncctl plan marks N users held, and says so
	ctl plan > "$T/plan.out" 2>&1 || :
	n=$(grep -c '^held ' "$T/plan.out" || :)
	echo "$n held line(s), wanted $1"; head -n 3 "$T/plan.out"; tail -n 1 "$T/plan.out"
	[ "$n" -eq "$1" ] && tail -n 1 "$T/plan.out" | grep -q ", $1 held by the safety catch$"
}
refreshes_since_mark() { log_now | grep -c 'refresh complete' || :; }
at_least_refreshes() { [ "$(refreshes_since_mark)" -ge "$1" ]; }
HELD='error: HELD by the safety catch: 10 user\(s\)'

echo "# ten users enrolled (source = poll)"
cs_agent_start
check "20 certificates active" cs_wait_for 60 status_is active 20
check "every entry shows its two certificates" cs_wait_for 30 dir_shows 2
crl_entries > "$T/crl.before"
dir_snapshot > "$T/dir.before"

echo "# poll: a filter typo, reloaded with SIGHUP"
set_dir filter "$TYPO"
reload
check "the pass is held, in one error line" cs_wait_for 30 log_has "$HELD"
last_line=$(log_now | grep -E "$HELD" | head -n 1)
echo "$last_line" > "$T/last.out"
last_says 'every one of the 10 known users' "... it says every known user would go"
last_says 'found 0 of the 10 known users' "... and why: the sweep found nobody"
last_says 'certsyncctl release' "... and how to go on"
check "two more polls come and go" cs_wait_for 30 at_least_refreshes 3
check "still one HELD line" log_count_is 'HELD by the safety catch' 1
check "nothing was revoked, put on hold or withdrawn" nothing_happened
check "certsyncctl status shows 10 held users, and why" \
    status_held 10 'found 0 of the 10 known users'
check "certsyncctl plan marks the 10 held users" plan_marks 10

echo "# certsyncctl release lets the pass through"
check_exit 0 "certsyncctl release" ctl release
last_says 'released 10 user\(s\)' "... released 10 users"
last_says 'was woken' "... and woke the agent through its pid file"
check "all 20 certificates are put on hold" cs_wait_for 30 status_is on-hold 20
check "... withdrawn from the directory" cs_wait_for 30 dir_shows 0
check "... and on the CRL as certificateHold" cs_wait_for 30 crl_holds_all
check "the held set is empty" status_not_held

echo "# the filter fixed: the users are back, the same certificates with them"
set_dir filter "$FILTER"
reload
check "the holds are lifted: 20 active again" cs_wait_for 30 status_is active 20
same_dir() { dir_snapshot > "$T/dir.now"; cmp -s "$T/dir.before" "$T/dir.now"; }
check "the same DER values are in the directory again" cs_wait_for 30 same_dir
check "the CRL lists none of them any more" cs_wait_for 30 crl_empty
check "no certificate was issued or revoked" sh -c \
    "test \$('$CTL' -c '$CONF' list | awk 'NR > 1' | wc -l) -eq 20"
crl_entries > "$T/crl.before"

echo "# poll: the service account's read right narrowed (mail no longer readable)"
acl_rule1() { # the ATTRS the service account may read in ou=people
	printf 'dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\ndelete: olcAccess\nolcAccess: {1}\n-\nadd: olcAccess\nolcAccess: {1}to dn.subtree="%s" attrs=%s by dn.exact="%s" read by * break\n' \
	    "$SLAPD_PEOPLE" "$1" "$SLAPD_SVC_DN" | ldap_config_modify >/dev/null
}
svc_sees() { # N: a search as the service account finds N users
	n=$(ldap_svc_search -LLL -b "$SLAPD_PEOPLE" "$FILTER" dn | grep -c '^dn:' || :)
	echo "the service account finds $n user(s)"; [ "$n" -eq "$1" ]
}
log_mark
acl_rule1 entry,objectClass,displayName,givenName,sn,cn,uid,entryUUID,entryCSN
check "the service account now finds nobody" svc_sees 0
check "the pass is held, in one error line" cs_wait_for 30 log_has "$HELD"
check "... one" log_count_is 'HELD by the safety catch' 1
check "nothing was revoked, put on hold or withdrawn" nothing_happened
check "certsyncctl status shows 10 held users" status_held 10 'found 0 of the 10'
log_mark
acl_rule1 entry,objectClass,mail,displayName,givenName,sn,cn,uid,entryUUID,entryCSN
check "the right restored, the service account finds 10 users" svc_sees 10
# A pass that reads while the right comes back may see some users only:
# the rest stay held, quietly, until the next pass sees them.
check "the held set empties by itself, logged" \
    cs_wait_for 30 log_has '[0-9]+ held user\(s\) are in the directory again; the held set is empty'
check "... once" log_count_is 'the held set is empty' 1
check "certsyncctl status: nothing held" status_not_held
check "nothing was revoked, put on hold or withdrawn" nothing_happened

echo "# syncrepl: the filter typo again"
set_dir source syncrepl
reload
check "syncrepl refreshed" cs_wait_for 30 log_has 'refresh complete'
set_dir filter "$TYPO"
reload
check "the reload drops the cookie: a full refresh with the new filter" \
    cs_wait_for 30 log_has 'base, scope or filter changed since the last pass'
check "the pass is held, in one error line" cs_wait_for 30 log_has "$HELD"
check "... one" log_count_is 'HELD by the safety catch' 1
check "nothing was revoked, put on hold or withdrawn" nothing_happened
check "certsyncctl status shows 10 held users" status_held 10 'found 0 of the 10'
check "certsyncctl plan marks them" plan_marks 10
set_dir filter "$FILTER"
reload
check "fixed: the held set empties by itself" \
    cs_wait_for 30 log_has 'the held set is empty'
check "nothing was revoked, put on hold or withdrawn" nothing_happened

echo "# syncrepl: a wrong base"
set_dir base "ou=services,$SLAPD_BASE"
reload
check "the pass is held, in one error line" cs_wait_for 30 log_has "$HELD"
check "... one" log_count_is 'HELD by the safety catch' 1
check "nothing was revoked, put on hold or withdrawn" nothing_happened
check "certsyncctl status shows 10 held users" status_held 10 'found 0 of the 10'
cs_agent_stop
check_exit 65 "certsyncd --once while users are held: exit 65" \
    "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
last_says '10 user\(s\) held by the safety catch' "... saying why"
check "the held set survived the restarts" status_held 10 'found 0 of the 10'
check "nothing was revoked, put on hold or withdrawn" nothing_happened
log_mark
cs_agent_start
# Its SIGHUP handler is in place once it runs its loop: wait for that.
check "the agent is back, from its cookie" \
    cs_wait_for 30 log_has 'refresh complete'
set_dir base "$SLAPD_PEOPLE"
reload
check "fixed: the held set empties by itself" \
    cs_wait_for 30 log_has 'the held set is empty'
check "nothing was revoked, put on hold or withdrawn" nothing_happened

echo "# syncrepl, persistent: single deletions add up within the hour"
on_hold_for() { [ "$(ctl list | awk -v a="$1@example.test" '$1 == "on-hold" && $NF == a' | wc -l)" -eq 2 ]; }
for u in u1 u2 u3; do
	LDAPNOINIT=1 ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" \
	    -y "$SLAPD_ADMIN_PW_FILE" "uid=$u,$SLAPD_PEOPLE"
	check "$u deleted: put on hold" cs_wait_for 30 on_hold_for "$u"
done
log_mark
LDAPNOINIT=1 ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" \
    -y "$SLAPD_ADMIN_PW_FILE" "uid=u4,$SLAPD_PEOPLE"
check "the fourth within the hour is held" \
    cs_wait_for 30 log_has 'HELD by the safety catch: 1 user\(s\)'
check "... the line says the window's share" log_has '3 more left within the last hour'
check "u4's certificates are still active" status_is on-hold 6
check "certsyncctl status shows u4 held" status_held 1 'deleted or moved out of scope'
cs_agent_stop
cs_done
