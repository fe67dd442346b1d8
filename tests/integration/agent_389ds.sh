#!/bin/sh
# agent_389ds.sh - certsyncd against a real 389 Directory Server (flavor =
# 389ds, tests/integration/ds389.sh), whose syncrepl departs from RFC 4533
# (schema/389ds/README.md).
#
# 20 users are enrolled by a full refresh and keyed by nsUniqueId in the
# syncUUID form, so "certsyncctl plan" and a poll pass find nothing to do.
# In the persist stage: an address change and a name change are reissued; a
# deleted user is put on hold (certificateHold) although, without the
# recipe's "see containers" ACI, the base search for the entry answers
# "success, no entries"; a user whose mail is removed is put on hold, and
# when the mail is back (within hold_days) the same certificates are
# published again and leave the CRL.  A restart resumes from the cookie and
# reissues nobody; the periodic full reconcile's presence check finds a
# user the service account may no longer read.  --once from a cookie after
# 1 of 20 users changed reissues that user and takes no one else out (389-ds
# ends that refresh with refreshDeletes FALSE: read as RFC 4533 says,
# everyone else would be gone); users deleted or taken out of the filter
# while the agent was down are found (the syncIdSet, the presence check).
# A cookie the server refuses (ahead of its changelog, as after a restore
# from a backup) and one older than the trimmed retro changelog (rootDSE
# firstchangenumber) each mean a full refresh whose sweep puts on hold
# exactly the user deleted meanwhile.  The safety catch: a [directory]
# filter typo, run with --once, is a full refresh that finds nobody: the
# pass is held (one error line, exit 65, nothing revoked, put on hold or
# withdrawn); certsyncctl release lets it through (the next --once puts
# everyone on hold), and the filter fixed brings the same certificates
# back, off the CRL.  A foreign
# userCertificate value survives everything; a concurrent writer's
# userSMIMECertificate value survives certsync's compare-and-swap (test
# builds: CERTSYNC_PUBLISH_RACE).  The eleventh persistent sync search,
# refused with 53, is retried with a growing backoff.  flavor = openldap
# against 389-ds is refused with one line.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/ds389.sh"
. "$CS_SRCDIR/tests/integration/smime_check.sh"
cs_need ldapsearch ldapmodify openssl base64 awk sqlite3
LDAPNOINIT=1; export LDAPNOINIT
CS_KEY_TYPE=ec:P-256
cs_setup
ds389_start
ds389_agent_conf "flavor = 389ds"
printf '[log]\nlevel = info\n' >> "$CONF"
# This test takes 7 users out one by one within minutes, which the safety
# catch's hour would add up (agent_safety.sh proves that): 10 lets them
# through, and still holds a pass that takes out every user.
printf '[reconcile]\nmax_revoke = 10\n' >> "$CONF"

dn() { echo "uid=$1,$DS389_PEOPLE"; }
i=1
while [ $i -le 20 ]; do
	n=$(printf '%02d' $i)
	printf 'dn: uid=u%s,%s\nchangetype: add\nobjectClass: top\nobjectClass: person\n' \
	    "$n" "$DS389_PEOPLE"
	printf 'objectClass: organizationalPerson\nobjectClass: inetOrgPerson\n'
	printf 'uid: u%s\ncn: User %s\nsn: %s\ndisplayName: User %s\nmail: u%s@example.test\n\n' \
	    "$n" "$n" "$n" "$n" "$n"
	i=$((i + 1))
done | ds389_admin_modify >/dev/null

# A certificate another CA issued to u02; it must survive everything.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/foreign.key" -subj "/CN=Foreign U02" -days 30 \
    -outform DER -out "$T/foreign.der" 2>/dev/null
printf 'dn: %s\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:< file://%s\n' \
    "$(dn u02)" "$T/foreign.der" | ds389_admin_modify >/dev/null
FOREIGN=$(base64 -w0 < "$T/foreign.der")

n_active() { ctl list --active | awk 'NR > 1' | wc -l; }
n_revoked() { ctl list | awk '$1 == "revoked"' | wc -l; }
n_issued() { ctl audit --last 0 | grep -c ' issue ' || :; }
active_is() { test "$(n_active)" -eq "$1"; }
active_for() { ctl list --active | grep -q " $1\$"; }
# Both serials of ADDRESS's active certificates, to check their fate later.
serials_of() { ctl list --active | awk -v a="$1" 'NR > 1 && $NF == a { print $3 }'; }
revoked_all() { for s in "$@"; do ctl list | grep -q "^revoked .* $s "|| return 1; done; }
held_all() { for s in "$@"; do ctl list | grep -q "^on-hold .* $s "|| return 1; done; }
# Certificates out of use: revoked, or on hold.
n_out() { ctl list | awk '$1 == "revoked" || $1 == "on-hold"' | wc -l; }
# The directory holds exactly our active certificates for ADDRESS (+ foreign).
published() { # DN ADDRESS [FOREIGN]
	{ cs_store_values "$2"; [ -z "${3:-}" ] || echo "$3"; } | sort > "$T/want"
	ds389_values "$1" 'userCertificate;binary' | sort > "$T/have"
	[ -n "$(cs_store_values "$2")" ] && cmp -s "$T/want" "$T/have"
}
no_certs() { [ -z "$(ds389_values "$1" 'userCertificate;binary')" ]; }
log_count() { test "$(grep -c -- "$1" "$T/agent.log")" -eq "$2"; }
once() { "$CS_BUILDDIR/certsyncd" -c "$CONF" --once >>"$T/agent.log" 2>&1; }
no_jobs() { ctl status | grep -q '^  queued     0$'; }
crl_lists() { # SERIAL REASON
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text 2>/dev/null |
	    grep -A4 "$1" | grep -q "$2"
}
# DN SUBJECT: the entry's one userSMIMECertificate value holds two
# certificates of SUBJECT and the CA's.
smime_holds() {
	ds389_smime_certs_of "$1" > "$T/smime.subjects"
	test "$(grep -cx "$2" "$T/smime.subjects") $(grep -c 'CN = certsync Test CA' \
	    "$T/smime.subjects") $(wc -l < "$T/smime.subjects")" = "2 1 3"
}
set_conf() { # KEY VALUE: in [directory], replacing an earlier line
	sed -i -e "/^$1 = /d" -e "s|^flavor = 389ds\$|flavor = 389ds\n$1 = $2|" "$CONF"
}

echo "# enrollment: a full refresh"
U01=$(ds389_syncuuid "$(ds389_uniqueid "$(dn u01)")")
cs_agent_start
check "the 20 users are enrolled (40 certificates)" cs_wait_for 60 active_is 40
check "u01's certificates are in the directory" \
    cs_wait_for 30 published "$(dn u01)" u01@example.test
check "u02's, and the foreign one" \
    cs_wait_for 30 published "$(dn u02)" u02@example.test "$FOREIGN"
check "u01's userSMIMECertificate holds its two certificates and the CA" \
    smime_holds "$(dn u01)" "CN = User 01"
smime_checks "u01, read back from 389-ds" \
    "$(ds389_values "$(dn u01)" userSMIMECertificate)" u01@example.test
check "the store keys u01 by its nsUniqueId as syncrepl sends it ($U01)" \
    sh -c "'$CTL' -c '$CONF' audit --last 0 | grep -q ' issue  *$U01 '"
check "certsyncctl plan (a plain search) agrees: nothing to do" ctl plan
last_says '^0 to do, 0 skipped, 20 up to date$' "0 to do, 20 up to date"

echo "# the persist stage"
OLD01=$(serials_of u01@example.test)
ds389_replace u01 mail u01.new@example.test >/dev/null
check "an address change is reissued" cs_wait_for 30 active_for u01.new@example.test
check "and published in place of the old" \
    cs_wait_for 30 published "$(dn u01)" u01.new@example.test
check "the old certificates are revoked" cs_wait_for 30 revoked_all $OLD01
check "as affiliationChanged in the CRL" \
    cs_wait_for 30 crl_lists "$(echo "$OLD01" | head -n 1)" "Affiliation Changed"
OLD03=$(serials_of u03@example.test)
ds389_replace u03 displayName "User Three" >/dev/null
check "a name change is reissued" cs_wait_for 30 revoked_all $OLD03
check "under the new name" sh -c "'$CTL' -c '$CONF' show u03@example.test | grep -q 'CN=User Three'"

# Without the recipe's third ACI, 389-ds answers the base search for a
# deleted entry with success and no entry instead of noSuchObject.
_ds389_ldif acl.ldif | sed -n 's/^aci: \(.*see containers.*\)$/\1/p' > "$T/aci"
check "the admin takes the \"see containers\" ACI away" sh -c \
    "printf 'dn: %s\nchangetype: modify\ndelete: aci\naci: %s\n' '$DS389_PEOPLE' \"\$(cat '$T/aci')\" |
     LDAPNOINIT=1 ldapmodify -x -H '$DS389_URI' -D '$DS389_ADMIN_DN' -y '$DS389_ADMIN_PW_FILE'"
OLD04=$(serials_of u04@example.test)
ds389_delete_user u04 >/dev/null
svc_base() { ds389_svc_search -LLL -b "$1" -s base '(objectClass=*)' 1.1 > "$T/base.out"; }
check "the service account's base search for the deleted u04 succeeds" svc_base "$(dn u04)"
check_fails "without an entry" grep -q '^dn:' "$T/base.out"
check "u04, deleted, is put on hold" cs_wait_for 30 held_all $OLD04
check "as certificateHold in the CRL" \
    cs_wait_for 30 crl_lists "$(echo "$OLD04" | head -n 1)" "Certificate Hold"
check "its read of the entry was taken for gone, not retried" \
    sh -c "! grep -q 'cannot read the entry' '$T/agent.log'"
printf 'dn: %s\nchangetype: modify\nadd: aci\naci: %s\n' "$DS389_PEOPLE" "$(cat "$T/aci")" |
    ds389_admin_modify >/dev/null
OLD05=$(serials_of u05@example.test)
ds389_values "$(dn u05)" 'userCertificate;binary' | sort > "$T/u05.before"
ds389_replace u05 mail >/dev/null
check "u05, whose mail was removed (out of the filter), is put on hold" \
    cs_wait_for 30 held_all $OLD05
check "and its certificates taken out of the directory" \
    cs_wait_for 30 no_certs "$(dn u05)"
ISSUED=$(n_issued)
ds389_replace u05 mail u05@example.test >/dev/null
u05_back() {
	ds389_values "$(dn u05)" 'userCertificate;binary' | sort > "$T/u05.now"
	[ -s "$T/u05.now" ] && cmp -s "$T/u05.before" "$T/u05.now"
}
check "its mail back within hold_days: the same certificates are published" \
    cs_wait_for 30 u05_back
u05_active() { [ "$(ctl list --active | grep -c ' u05@example.test$')" -eq 2 ]; }
check "active again" cs_wait_for 30 u05_active
crl_lacks() { ! openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text | grep -q "$1"; }
check "and off the CRL" cs_wait_for 30 crl_lacks "$(echo "$OLD05" | head -n 1)"
check "none issued" test "$(n_issued)" -eq "$ISSUED"
revoked_is() { test "$(n_revoked)" -eq "$1"; }
check "2 reissues revoked 4 certificates, nothing else" cs_wait_for 30 revoked_is 4
check "u04's 2 are on hold, nobody else's" test "$(n_out)" -eq 6
check "the jobs are done" cs_wait_for 30 no_jobs

echo "# a restart resumes from the cookie and reissues nobody"
cs_agent_stop
ISSUED=$(n_issued) REVOKED=$(n_out)
# The periodic full reconcile every 2 s (test builds), not every 24 hours.
export CERTSYNC_FULL_RECONCILE_SECONDS=2
cs_agent_start
unset CERTSYNC_FULL_RECONCILE_SECONDS
check "the restart resumes from the cookie" \
    cs_wait_for 30 log_count "resuming from the stored cookie" 1
check "its refresh and presence check complete" \
    cs_wait_for 30 log_count "refresh complete" 2
check "the periodic full reconcile checks which users are still in scope" \
    cs_wait_for 30 log_count "refresh complete" 3
check "nobody was issued ($ISSUED), revoked or put on hold ($REVOKED)" \
    test "$(n_issued) $(n_out)" = "$ISSUED $REVOKED"

echo "# a user the account may no longer read: the periodic check finds him"
# 389-ds reports the entry as modified (with nothing readable), not gone.
OLD13=$(serials_of u13@example.test)
printf 'dn: %s\nchangetype: modify\nadd: aci\naci: (targetattr = "*")(version 3.0; acl "hide u13"; deny (all) userdn = "ldap:///%s";)\n' \
    "$(dn u13)" "$DS389_SVC_DN" | ds389_admin_modify >/dev/null
check "u13 is put on hold" cs_wait_for 30 held_all $OLD13
check "and nobody else" test "$(n_out)" -eq $((REVOKED + 2))
check "by the periodic check" grep -q "checking which users are still in scope" "$T/agent.log"
cs_agent_stop

echo "# --once from a cookie, after 1 of 20 users changed"
ISSUED=$(n_issued) REVOKED=$(n_out) ACTIVE=$(n_active)
OLD06=$(serials_of u06@example.test)
ds389_replace u06 mail u06.new@example.test >/dev/null
check_exit 0 "certsyncd --once" once
check "u06 is reissued" active_for u06.new@example.test
check "its old certificates are revoked" revoked_all $OLD06
check "and nobody else's: 2 out of use ($REVOKED -> $((REVOKED + 2)))" \
    test "$(n_out)" -eq $((REVOKED + 2))
check "2 certificates issued" test "$(n_issued)" -eq $((ISSUED + 2))
check "as many active certificates as before ($ACTIVE)" active_is "$ACTIVE"
check "u06's new ones are in the directory" \
    published "$(dn u06)" u06.new@example.test

echo "# --once finds users deleted and taken out of the filter meanwhile"
OLD07=$(serials_of u07@example.test) OLD08=$(serials_of u08@example.test)
ds389_delete_user u07 >/dev/null
ds389_replace u08 mail >/dev/null
REVOKED=$(n_out)
check_exit 0 "certsyncd --once" once
check "u07 (deleted: the cookie's syncIdSet) is put on hold" held_all $OLD07
check "u08 (mail removed: the presence check) is put on hold" held_all $OLD08
check "and nobody else" test "$(n_out)" -eq $((REVOKED + 4))

echo "# a refused cookie: a full refresh, and its sweep"
OLD09=$(serials_of u09@example.test)
ds389_delete_user u09 >/dev/null
# As after a restore of the server from a backup: the stored cookie is
# ahead of the server's changelog, which refuses it.
SQL="sqlite3 $T/state/state.db"
COOKIE=$($SQL "SELECT CAST(cookie AS TEXT) FROM checkpoints WHERE source = 'syncrepl'")
check "a cookie is stored" test -n "$COOKIE"
$SQL "UPDATE checkpoints SET cookie = CAST('${COOKIE%#*}#999999' AS BLOB) WHERE source = 'syncrepl'"
REVOKED=$(n_out) ISSUED=$(n_issued)
check_exit 0 "certsyncd --once" once
check "the server refused the cookie; a full refresh followed" \
    grep -q "the server refused the stored cookie (e-syncRefreshRequired); a full refresh follows" "$T/agent.log"
check "u09, deleted meanwhile, is put on hold" held_all $OLD09
check "and nobody else" test "$(n_out)" -eq $((REVOKED + 2))
check "nobody was issued anything" test "$(n_issued)" -eq "$ISSUED"

echo "# a cookie older than the trimmed retro changelog"
check "the admin keeps change records for 1 s" ds389_admin_modify <<EOF
dn: cn=Retro Changelog Plugin,cn=plugins,cn=config
changetype: modify
replace: nsslapd-changelogmaxage
nsslapd-changelogmaxage: 1s
-
replace: nsslapd-changelog-trim-interval
nsslapd-changelog-trim-interval: 1
EOF
check "ds389_restart puts that in force" ds389_restart
first_cn() { ldapsearch -x -LLL -H "$DS389_URI" -b "" -s base "$1" | sed -n "s/^$1: //p"; }
check_exit 0 "certsyncd --once stores a fresh cookie" once
LAST=$(first_cn lastchangenumber)
OLD10=$(serials_of u10@example.test)
ds389_delete_user u10 >/dev/null
ds389_replace u11 description "first" >/dev/null
ds389_replace u11 description "second" >/dev/null
trimmed() { [ "$(first_cn firstchangenumber)" -gt $((LAST + 1)) ]; }
check "the server trims the deletion of u10 from its changelog" cs_wait_for 20 trimmed
REVOKED=$(n_out)
check_exit 0 "certsyncd --once" once
check "it does not resume from the stale cookie" \
    grep -q "not resuming from the stored cookie: the retro changelog starts at change" "$T/agent.log"
check "u10, deleted meanwhile, is put on hold" held_all $OLD10
check "and nobody else" test "$(n_out)" -eq $((REVOKED + 2))

echo "# the safety catch: a filter typo, run with --once"
# Every user's userCertificate values, "uNN VALUE" (deleted users: none).
dir_snapshot() {
	i=1
	while [ $i -le 20 ]; do
		u=u$(printf '%02d' $i)
		{ ds389_values "$(dn $u)" 'userCertificate;binary' 2>/dev/null || :; } |
		    sed "s/^/$u /"
		i=$((i + 1))
	done
}
crl_serials() { # "SERIAL REASON" of every CRL entry, sorted
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text | awk '
	    /Serial Number:/ { if (s) print s, r; s = $3; r = "-" }
	    /X509v3 CRL Reason Code:/ { getline; gsub(/^ +/, ""); r = $0; gsub(/ /, "", r) }
	    END { if (s) print s, r }' | sort
}
LOG_FROM=$(wc -l < "$T/agent.log")
log_now() { tail -n +"$((LOG_FROM + 1))" "$T/agent.log"; }
held_lines() { test "$(log_now | grep -c 'HELD by the safety catch')" -eq "$1"; }
unchanged() { # nothing revoked, put on hold or withdrawn since the snapshot
	dir_snapshot > "$T/dir.now"; crl_serials > "$T/crl.now"
	test "$(n_out) $(n_active)" = "$OUT $ACTIVE" && cmp -s "$T/dir.before" "$T/dir.now" &&
	    cmp -s "$T/crl.before" "$T/crl.now"
}
dir_snapshot > "$T/dir.before"
crl_serials > "$T/crl.before"
OUT=$(n_out) ACTIVE=$(n_active) ISSUED=$(n_issued)
HELD=$(grep -c ' CertificateHold$' "$T/crl.before" || :)
KNOWN=$((ACTIVE / 2))
set_conf filter '(\&(objectClass=inetOrgPerson)(mial=*))'
check_exit 65 "certsyncd --once: exit 65 while the pass is held" once
check "one line says the pass is held, how many and why" \
    sh -c "tail -n +$((LOG_FROM + 1)) '$T/agent.log' | grep -q \
    'error: HELD by the safety catch: $KNOWN user(s) would be taken out of the directory at once.*every one of the $KNOWN known users'"
check "... one" held_lines 1
check "nothing was revoked, put on hold or withdrawn; the CRL is unchanged" unchanged
check "certsyncctl status shows the $KNOWN held users" \
    sh -c "'$CTL' -c '$CONF' status | grep -Eq '^held: +$KNOWN user\\(s\\) since '"
check_exit 0 "certsyncctl release" ctl release
last_says "released $KNOWN user\\(s\\)" "... lets the $KNOWN users through"
check_exit 0 "the next certsyncd --once applies it" once
check "... every active certificate is put on hold" \
    test "$(n_active) $(n_out)" = "0 $((OUT + ACTIVE))"
# Only the foreign value is left, and u13's, whose entry the service
# account may not read (its hold withdrew nothing: to certsync the entry
# is gone).
withdrawn() {
	dir_snapshot > "$T/dir.now"; cut -c 1-60 "$T/dir.now"
	{ echo "u02 $FOREIGN"; grep '^u13 ' "$T/dir.before"; } > "$T/dir.want"
	cmp -s "$T/dir.want" "$T/dir.now"
}
check "... and taken out of the directory (the foreign value stays)" withdrawn
crl_held() { test "$(crl_serials | grep -c ' CertificateHold$')" -eq "$1"; }
check "... and on the CRL as certificateHold" crl_held $((HELD + ACTIVE))
sed -i '/^filter = /d' "$CONF"
check_exit 0 "the filter fixed: certsyncd --once" once
check "the same certificates are active and in the directory again, off the CRL" unchanged
check "none issued" test "$(n_issued)" -eq "$ISSUED"

echo "# switching source to poll changes nobody"
set_conf source poll
REVOKED=$(n_out) ISSUED=$(n_issued) ACTIVE=$(n_active)
LOG_FROM=$(wc -l < "$T/agent.log")
check_exit 0 "certsyncd --once with source = poll" once
check "its pass plans nothing" \
    sh -c "tail -n +$((LOG_FROM + 1)) '$T/agent.log' | grep -q 'refresh complete: 0 planned, 0 skipped, '"
check "nobody was issued, revoked or put on hold" \
    test "$(n_issued) $(n_out) $(n_active)" = "$ISSUED $REVOKED $ACTIVE"
sed -i '/^source = poll$/d' "$CONF"

echo "# another writer between certsync's read and write of userSMIMECertificate"
if grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	# Between certsync's read and its write, they replace the attribute
	# with a value of their own: certsync's delete of its old value fails.
	openssl rand 48 > "$T/theirs.bin"
	THEIRS=$(base64 -w0 < "$T/theirs.bin")
	printf 'dn: %s\nchangetype: modify\nreplace: userSMIMECertificate\nuserSMIMECertificate:< file://%s\n' \
	    "$(dn u12)" "$T/theirs.bin" > "$T/race.ldif"
	printf "LDAPNOINIT=1 ldapmodify -x -H '%s' -D '%s' -y '%s' -f '%s' > '%s' 2>&1\n" \
	    "$DS389_URI" "$DS389_ADMIN_DN" "$DS389_ADMIN_PW_FILE" "$T/race.ldif" \
	    "$T/race.out" > "$T/race.sh"
	ds389_replace u12 mail u12.new@example.test >/dev/null
	CERTSYNC_PUBLISH_RACE="sh $T/race.sh" once
	check "the other writer wrote between certsync's read and write" \
	    grep -q "modifying entry" "$T/race.out"
	check "certsync's compare-and-swap failed, and it read the entry again" \
	    grep -q "publish $(dn u12): the entry changed between our read and our write; reading it again" "$T/agent.log"
	ds389_values "$(dn u12)" userSMIMECertificate > "$T/smime"
	check "userSMIMECertificate holds two values" test "$(wc -l < "$T/smime")" -eq 2
	check "theirs, byte for byte" grep -qx "$THEIRS" "$T/smime"
	check "and ours, with u12's new certificates" smime_holds "$(dn u12)" "CN = User 12"
	check "which are the active ones" published "$(dn u12)" u12.new@example.test
	smime_checks "u12's after the race" "$(grep -vx "$THEIRS" "$T/smime")" \
	    u12.new@example.test
else
	echo "# (the race needs a build configured with --enable-failpoints)"
fi
foreign_kept() { ds389_values "$(dn u02)" 'userCertificate;binary' | grep -qx "$FOREIGN"; }
check "the foreign certificate is still in u02's entry" foreign_kept

echo "# the eleventh persistent sync search is refused (53), and retried"
SYNCS=
i=1
while [ $i -le 10 ]; do
	ldapsearch -x -H "$DS389_URI" -D "$DS389_ADMIN_DN" -y "$DS389_ADMIN_PW_FILE" \
	    -b "$DS389_PEOPLE" -E sync=rp '(uid=nobody)' 1.1 > "$T/sync$i.out" 2>&1 &
	SYNCS="${SYNCS:+$SYNCS }$!"
	i=$((i + 1))
done
cs_on_exit "kill $SYNCS 2>/dev/null"
persisting() { [ "$(grep -l 'switching to persist stage' "$T"/sync*.out | wc -l)" -eq 10 ]; }
check "ten persistent sync searches run" cs_wait_for 30 persisting
refusals() { [ "$(grep -c 'RESULT err=53 ' "$DS389_ACCESS")" -ge "$1" ]; }
DONE=$(grep -c "refresh complete" "$T/agent.log")
cs_agent_start
check "the agent's is refused, one line says why" cs_wait_for 30 grep -q \
    "the server refused the sync search (Server is unwilling to perform): 389-ds runs at most 10 persistent ones at once" "$T/agent.log"
check "it tries again, three times" cs_wait_for 30 refusals 3
# The seconds between the refusals: 1 s, then 2 s (reconnect_max), +-20%.
gaps() {
	grep 'RESULT err=53 ' "$DS389_ACCESS" | head -n 3 |
	    sed 's/^\[[^:]*:\([0-9]*\):\([0-9]*\):\([0-9.]*\) .*/\1 \2 \3/' |
	    awk '{ t = $1 * 3600 + $2 * 60 + $3; if (NR > 1) printf "%.1f ", t - p; p = t }'
}
G=$(gaps)
check "with a growing backoff (gaps: $G s)" \
    awk -v g="$G" 'BEGIN { split(g, a, " "); exit !(a[1] >= 0.7 && a[2] >= 1.4) }'
kill ${SYNCS%% *}
check "a slot frees: the agent's search runs" \
    cs_wait_for 30 log_count "refresh complete" $((DONE + 1))
cs_agent_stop

echo "# flavor = openldap against 389-ds is refused"
sed -i 's/^flavor = 389ds$/flavor = openldap/' "$CONF"
check_exit 69 "certsyncd --once" "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
last_says "the server is 389 Directory Server \(vendorName \"389 Project\"\), which certsync follows only with \[directory\] flavor = 389ds" \
    "one line says what to set"
check_exit 69 "certsyncctl plan too" ctl plan
last_says "flavor = 389ds" "with the same line"
check "the users' certificates stayed" test "$(n_active)" -eq "$ACTIVE"
cs_done
