#!/bin/sh
# tests/integration/ds389_harness.sh - the test 389 Directory Server
# (ds389.sh) and the directory configuration certsync ships
# (schema/389ds/*.ldif), and what 389-ds's Content Synchronization plugin
# really sends, which certsync must cope with.
#
# Checks that the private instance listens on 127.0.0.1 only; that the
# recipe is in place (plugins, ACIs, the service account and its limits);
# that syncrepl works for the service account: refreshOnly returns the users
# with syncUUIDs made of their nsUniqueId, a cookie-resumed refresh sends
# only what changed (deletions as a syncIdSet) yet ends with refreshDeletes
# FALSE, a refused cookie is e-syncRefreshRequired (4096), and
# refreshAndPersist reports a modify, a modrdn and a delete; that the account
# may write userCertificate;binary and userSMIMECertificate but not mail, and
# cannot read other personal attributes; that a base search for a deleted
# user answers noSuchObject (32) to it; that a modify deleting an exact old
# value is a compare-and-swap (noSuchAttribute, 16, when someone changed it)
# while the assertion control is unsupported (12 when critical, ignored
# when not); that ds389_restart keeps the port, the data and the cookies,
# also after ds389_kill; and that a cookie older than the trimmed retro
# changelog is accepted, the changes it misses lost, which only the rootDSE's
# firstchangenumber reveals.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/ds389.sh"
cs_need timeout mkfifo sed awk base64 cmp ldapwhoami
LDAPNOINIT=1; export LDAPNOINIT  # no ldap.conf or .ldaprc
cs_setup
ds389_start

ALICE=uid=alice,$DS389_PEOPLE
BOB=uid=bob,$DS389_PEOPLE
FILTER='(&(objectClass=inetOrgPerson)(mail=*))'

# --- the server ------------------------------------------------------------

# The listening sockets on DS389_PORT, as "file address" lines.
listeners() {
	hex=$(printf '%04X' "$DS389_PORT")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		awk -v f="$f" -v p=":$hex" \
		    '$4 == "0A" && substr($2, length($2) - 4) == p { print f, $2 }' "$f"
	done
}
only_loopback() {
	l=$(listeners); echo "$l"
	[ "$l" = "/proc/net/tcp 0100007F:$(printf '%04X' "$DS389_PORT")" ]
}
check "ns-slapd listens on 127.0.0.1:$DS389_PORT and on no other address" only_loopback
check "it answers on $DS389_URI" \
    ldapsearch -x -LLL -H "$DS389_URI" -b "" -s base namingContexts vendorVersion
last_says "^namingContexts: $DS389_BASE\$" "its naming context is $DS389_BASE"
last_says '^vendorVersion: 389-Directory/' "it is 389 Directory Server"
check_fails "nothing answers on another loopback address (127.0.0.2)" \
    ldapsearch -x -H "ldap://127.0.0.2:$DS389_PORT" -b "" -s base
mode_600() { for f in "$@"; do [ "$(stat -c %a "$f")" = 600 ] || return 1; done; }
check "the password files are mode 600" \
    mode_600 "$DS389_ADMIN_PW_FILE" "$DS389_SVC_PW_FILE"
check "the server runs the test's own configuration" \
    _ds389_is_ours "$DS389_PID" "$T/ds389/etc/dirsrv/slapd-certsync"

# --- the shipped configuration is in place -----------------------------------

check "plugins.ldif enabled the Retro Changelog" ds389_get_attr \
    "cn=Retro Changelog Plugin,cn=plugins,cn=config" nsslapd-pluginEnabled \
    nsslapd-attribute nsslapd-include-suffix nsslapd-changelogmaxage
last_says '^nsslapd-pluginEnabled: on$' "it is on"
last_says '^nsslapd-attribute: nsuniqueid:targetUniqueId$' \
    "it records nsuniqueid as targetUniqueId"
last_says "^nsslapd-include-suffix: $DS389_BASE\$" "for $DS389_BASE only"
last_says '^nsslapd-changelogmaxage: 30d$' "and keeps 30 days"
check "and Content Synchronization" ds389_get_attr \
    "cn=Content Synchronization,cn=plugins,cn=config" nsslapd-pluginEnabled
last_says '^nsslapd-pluginEnabled: on$' "it is on"
check "the server offers the sync request control" \
    ldapsearch -x -LLL -H "$DS389_URI" -b "" -s base supportedControl
last_says '^supportedControl: 1\.3\.6\.1\.4\.1\.4203\.1\.9\.1\.1$' "1.3.6.1.4.1.4203.1.9.1.1"
check "the service account can bind" ldapwhoami -x -H "$DS389_URI" \
    -D "$DS389_SVC_DN" -y "$DS389_SVC_PW_FILE"
last_says "^dn: *$DS389_SVC_DN\$" "and is who it says"
check "it has no search limits" ds389_get_attr "$DS389_SVC_DN" \
    nsSizeLimit nsLookThroughLimit
last_says '^nsSizeLimit: -1$' "nsSizeLimit -1"
last_says '^nsLookThroughLimit: -1$' "nsLookThroughLimit -1"
check "acl.ldif's ACIs are on $DS389_PEOPLE" ds389_get_attr "$DS389_PEOPLE" aci
last_says 'acl "certsync: read users"; allow \(read, search, compare\) userdn = "ldap:///'"$DS389_SVC_DN" \
    "certsync: read users"
last_says '^aci: \(targetattr = "userCertificate \|\| userSMIMECertificate"\).*acl "certsync: publish certificates"; allow \(write\)' \
    "certsync: publish certificates"
last_says 'acl "certsync: see containers"' "certsync: see containers"

# --- users and syncrepl --------------------------------------------------------

check "users can be added" ds389_add_user alice alice@example.test \
    "Alice Example" Alice Example
for u in bob carol dave erin; do
	ds389_add_user "$u" "$u@example.test" "$u Example" >/dev/null
done
check "the user is there" ds389_get_attr "$ALICE" mail nsUniqueId entryUUID
last_says '^mail: alice@example\.test$' "with its mail"
last_says '^nsUniqueId: [0-9a-f]{8}(-[0-9a-f]{8}){3}$' "an nsUniqueId (8-8-8-8 hex)"
last_says '^entryUUID: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' \
    "and an entryUUID (the entryuuid plugin is on by default)"
alice_nsu=$(sed -n 's/^nsUniqueId: //p' "$T/last.out")
alice_euuid=$(sed -n 's/^entryUUID: //p' "$T/last.out")
alice_sync=$(ds389_syncuuid "$alice_nsu")
bob_sync=$(ds389_syncuuid "$(ds389_uniqueid "$BOB")")
dave_sync=$(ds389_syncuuid "$(ds389_uniqueid "uid=dave,$DS389_PEOPLE")")
check "the syncUUID of an nsUniqueId is its 16 bytes as an RFC 4122 UUID" \
    test -n "$alice_sync" -a -n "$bob_sync" -a -n "$dave_sync"
check "it is not the entryUUID" test "$alice_sync" != "$alice_euuid"

# svc_sync MODE[/COOKIE] ATTR...: a syncrepl search of the users as the
# service account; its output also stays in $T/sync.out.
svc_sync() {
	s_mode=$1; shift
	s_rc=0
	ds389_svc_search -b "$DS389_PEOPLE" -E "!sync=$s_mode" "$FILTER" "$@" \
	    > "$T/sync.out" 2>&1 || s_rc=$?
	cat "$T/sync.out"
	return $s_rc
}
# state_is DN UUID STATE: the last svc_sync sent DN with a SyncState control
# of UUID and STATE (as ldapsearch prints them).
state_is() {
	awk -v dn="dn: $1" '$0 == dn { f = 1; next }
	    f && /^# SyncState control/ { print; exit } /^$/ { f = 0 }' \
	    "$T/sync.out" | grep "UUID $2 $3\$"
}
# The cookie the last svc_sync ended with.
cookie() { sed -n 's/^# cookie: //p' "$T/sync.out" | tail -n 1; }

check "refreshOnly syncrepl works as the service account" svc_sync ro mail nsUniqueId
last_says '^# numEntries: 5$' "it returns the five users"
last_says '^nsUniqueId: ' "nsUniqueId, asked for, is readable"
last_says '^# SyncDone control refreshDeletes=0$' "a full refresh ends with refreshDeletes FALSE"
last_says "^# cookie: localhost:$DS389_PORT#$DS389_SVC_DN:$DS389_PEOPLE:.*#[0-9]+\$" \
    "with a cookie: server:port#binder:base:filter#changenumber"
check "each user as added, with the UUID built from its nsUniqueId" \
    state_is "$ALICE" "$alice_sync" added
cookie1=$(cookie)

check "the admin changes bob" ds389_replace bob displayName "Bob Changed"
check "refreshOnly from the cookie" svc_sync "ro/$cookie1" mail nsUniqueId
last_says '^# numEntries: 1$' "sends only bob"
last_says '^displayName: Bob Changed$' "with every attribute it may read, not the ones asked for"
last_says '^# SyncDone control refreshDeletes=0$' \
    "yet ends with refreshDeletes FALSE (RFC 4533 would mean: delete the other four)"
check_fails "and without nsUniqueId, though asked for" \
    grep -q '^nsUniqueId:' "$T/sync.out"
check "bob as added (389-ds never sends present or modify in a refresh)" \
    state_is "$BOB" "$bob_sync" added
cookie2=$(cookie)

check "refreshOnly from the new cookie, nothing changed" svc_sync "ro/$cookie2" 1.1
last_says '^# SyncDone control refreshDeletes=0$' "ends with refreshDeletes FALSE again"
check_fails "and sends no entry" grep -q '^dn:' "$T/sync.out"

check "the admin deletes dave" ds389_delete_user dave
check "refreshOnly from the cookie" svc_sync "ro/$cookie2" 1.1
last_says '^# SyncInfo Received: ID Set$' "sends a syncIdSet"
last_says '^# following UUIDs no longer match the search$' "of deleted entries (refreshDeletes TRUE)"
last_says "^#	$dave_sync\$" "naming dave's UUID"
last_says '^# SyncDone control refreshDeletes=0$' "and ends with refreshDeletes FALSE"
cookie3=$(cookie)

check "the admin removes erin's mail" ds389_replace erin mail
check "refreshOnly from the cookie" svc_sync "ro/$cookie3" 1.1
check_fails "says nothing of erin, who left the filter" \
    grep -q 'erin\|SyncInfo' "$T/sync.out"

# ldapsearch exits with the result code modulo 256: 4096 is exit 0.
check_exit 0 "a garbage cookie" svc_sync ro/garbage 1.1
last_says '^result: 4096 Content Sync Refresh Required$' "is e-syncRefreshRequired (4096)"
check_exit 0 "a cookie of another filter" ds389_svc_search -b "$DS389_PEOPLE" \
    -E "!sync=ro/$cookie3" '(objectClass=inetOrgPerson)' 1.1
last_says '^result: 4096 ' "is e-syncRefreshRequired too"
check "the rootDSE tells the retro changelog's range" ldapsearch -x -LLL \
    -H "$DS389_URI" -b "" -s base firstchangenumber lastchangenumber
last_says '^firstchangenumber: [0-9]+$' "firstchangenumber"
last_says '^lastchangenumber: [0-9]+$' "lastchangenumber"

# refreshAndPersist: the search's output goes into a FIFO that this shell
# holds open, read up to a marker with a time bound.
mkfifo "$T/rp.fifo"
exec 3<>"$T/rp.fifo"
# ldapsearch itself, not through a function, so that $! is its pid.
ldapsearch -o ldif-wrap=no -x -H "$DS389_URI" -D "$DS389_SVC_DN" \
    -y "$DS389_SVC_PW_FILE" -b "$DS389_PEOPLE" -E "!sync=rp/$(cookie)" "$FILTER" \
    mail >&3 2>&1 &
rp_pid=$!
cs_on_exit "kill $rp_pid 2>/dev/null"
read_until() { timeout 10 sed -n "/$1/{p;q}" <&3; }
check "refreshAndPersist as the service account ends its refresh" \
    read_until '^# refresh done'
check "the admin changes alice" ds389_replace alice displayName "Alice Changed"
check "the persist stage reports her as modified" \
    read_until "^# SyncState control, UUID $alice_sync modified\$"
check "the admin renames bob" ds389_rename_user bob bobby
check "the persist stage reports him as modified" \
    read_until "^# SyncState control, UUID $bob_sync modified\$"
check "the admin deletes alice" ds389_delete_user alice
check "the persist stage reports her as deleted" \
    read_until "^# SyncState control, UUID $alice_sync deleted\$"
kill "$rp_pid" 2>/dev/null || :
wait "$rp_pid" 2>/dev/null || :
exec 3<&-
BOB=uid=bobby,$DS389_PEOPLE

# --- a user that is gone -------------------------------------------------------

svc_base() {  # DN: a base search as the service account, kept in $T/base.out
	b_rc=0
	ds389_svc_search -LLL -b "$1" -s base '(objectClass=*)' mail \
	    > "$T/base.out" 2>&1 || b_rc=$?
	cat "$T/base.out"
	return $b_rc
}
check_exit 32 "a base search as the service account for deleted alice" svc_base "$ALICE"
last_says "^Matched DN: $DS389_PEOPLE\$" "is noSuchObject, matched $DS389_PEOPLE"
check "the admin takes 'certsync: see containers' away" ds389_admin_modify <<EOF
dn: $DS389_PEOPLE
changetype: modify
delete: aci
$(ds389_get_attr "$DS389_PEOPLE" aci | grep 'certsync: see containers')
EOF
check_exit 0 "without it the same search" svc_base "$ALICE"
check_fails "is success with no entry" grep -q '^dn:' "$T/base.out"
check "the admin puts it back" ds389_admin_modify <<EOF
dn: $DS389_PEOPLE
changetype: modify
add: aci
$(_ds389_ldif acl.ldif | grep '^aci: .*certsync: see containers')
EOF
check_exit 32 "and the search is noSuchObject again" svc_base "$ALICE"

# --- what the service account may write -------------------------------------

for n in 1 2 3; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/x$n.key" -subj "/CN=x$n" -days 1 -outform DER \
	    -out "$T/x$n.der" 2>/dev/null
	openssl x509 -inform DER -in "$T/x$n.der" -out "$T/x$n.pem"
	openssl crl2pkcs7 -nocrl -certfile "$T/x$n.pem" -outform DER -out "$T/x$n.p7b"
done

svc_change() {  # OP ATTR VALUE-SPEC: one change to bob as the service account
	printf 'dn: %s\nchangetype: modify\n%s: %s\n%s\n' "$BOB" "$1" "$2" "$3" |
	    ds389_svc_modify
}
# The value of ATTR of bob equals FILE.
value_is() {
	v=$(ds389_values "$BOB" "$1")
	[ -n "$v" ] && printf '%s' "$v" | base64 -d | cmp - "$2"
}

check "the service account can replace userCertificate;binary" svc_change \
    replace 'userCertificate;binary' "userCertificate;binary:< file://$T/x1.der"
check "the directory holds that certificate" value_is 'userCertificate;binary' "$T/x1.der"
check "ds389_certs_of reads it" ds389_certs_of "$BOB"
last_says '^subject=CN ?= ?x1 ' "subject CN=x1"
check "the service account can replace userSMIMECertificate" svc_change \
    replace userSMIMECertificate "userSMIMECertificate:< file://$T/x1.p7b"
check "the directory holds that PKCS#7" value_is userSMIMECertificate "$T/x1.p7b"
check "ds389_smime_certs_of reads it" ds389_smime_certs_of "$BOB"
last_says '^CN ?= ?x1$' "subject CN=x1"
check "the service account can delete userSMIMECertificate" svc_change \
    delete userSMIMECertificate ""
check "and add it again" svc_change \
    add userSMIMECertificate "userSMIMECertificate:< file://$T/x1.p7b"

check_exit 50 "the service account cannot modify mail" \
    svc_change replace mail 'mail: evil@example.test'
last_says 'Insufficient access' "insufficientAccess"
check_exit 50 "nor displayName" svc_change replace displayName 'displayName: Evil'
check_exit 50 "nor userPassword" svc_change replace userPassword 'userPassword: evil'
check "mail is unchanged" ds389_values "$BOB" mail
last_says '^bob@example\.test$' "still bob@example.test"
check_exit 50 "the service account cannot add users" ds389_svc_modify <<EOF
dn: uid=eve,$DS389_PEOPLE
changetype: add
objectClass: inetOrgPerson
uid: eve
cn: Eve
sn: Eve
EOF
check_exit 50 "nor delete them" ds389_svc_modify <<EOF
dn: $BOB
changetype: delete
EOF

check "the admin sets a password and a telephone number for bob" ds389_admin_modify <<EOF
dn: $BOB
changetype: modify
replace: userPassword
userPassword: bob-secret
-
replace: telephoneNumber
telephoneNumber: +1 555 0100
EOF
svc_reads() {  # ATTR: bob's entry as the service account sees it
	ds389_svc_search -LLL -b "$BOB" -s base '(objectClass=*)' "$1" \
	    > "$T/svc.out" || return 1
	cat "$T/svc.out"
	grep -q "^dn: $BOB\$" "$T/svc.out" || return 1
	grep -qi "^$1:" "$T/svc.out"
}
check "the service account reads bob's mail" svc_reads mail
check_fails "but not his userPassword" svc_reads userPassword
last_says "^dn: $BOB\$" "though it sees the entry"
check_fails "nor his telephoneNumber" svc_reads telephoneNumber

# --- guarding userSMIMECertificate against a concurrent writer ---------------

# No assertion control (RFC 4528): critical, it is refused; not critical, it
# is ignored.
check_exit 12 "a modify with a critical assertion control is refused" \
    ds389_svc_modify -e "!assert=(mail=bob@example.test)" <<EOF
dn: $BOB
changetype: modify
replace: userSMIMECertificate
userSMIMECertificate:< file://$T/x2.p7b
EOF
last_says 'Critical extension is unavailable' "unavailableCriticalExtension"
check "the value is unchanged" value_is userSMIMECertificate "$T/x1.p7b"
check "a modify with a false, non-critical assertion control" \
    ds389_svc_modify -e "assert=(mail=nobody@example.test)" <<EOF
dn: $BOB
changetype: modify
replace: userSMIMECertificate
userSMIMECertificate:< file://$T/x2.p7b
EOF
check "is applied all the same" value_is userSMIMECertificate "$T/x2.p7b"
check "the value goes back" svc_change \
    replace userSMIMECertificate "userSMIMECertificate:< file://$T/x1.p7b"
# Compare-and-swap by value: delete the exact value read, add the new one.
cas() {  # OLD NEW: bob's userSMIMECertificate from OLD to NEW, or nothing
	printf 'dn: %s\nchangetype: modify\ndelete: userSMIMECertificate\nuserSMIMECertificate:< file://%s\n-\nadd: userSMIMECertificate\nuserSMIMECertificate:< file://%s\n' \
	    "$BOB" "$1" "$2" | ds389_svc_modify
}
check "another writer replaces the value" ds389_admin_modify <<EOF
dn: $BOB
changetype: modify
replace: userSMIMECertificate
userSMIMECertificate:< file://$T/x2.p7b
EOF
check_exit 16 "a compare-and-swap from the value read before fails" \
    cas "$T/x1.p7b" "$T/x3.p7b"
last_says 'No such attribute' "noSuchAttribute"
check "and changes nothing" value_is userSMIMECertificate "$T/x2.p7b"
check "from the current value it succeeds" cas "$T/x2.p7b" "$T/x3.p7b"
check "and the new value is there alone" value_is userSMIMECertificate "$T/x3.p7b"

# --- limits ------------------------------------------------------------------

check "the admin lowers the server's size limit to 1" ds389_admin_modify <<EOF
dn: cn=config
changetype: modify
replace: nsslapd-sizelimit
nsslapd-sizelimit: 1
EOF
check "the service account's full refresh is not limited" svc_sync ro 1.1
last_says '^# numEntries: 2$' "it returns both users left with mail"
check "the admin takes the account's nsSizeLimit away" ds389_admin_modify <<EOF
dn: $DS389_SVC_DN
changetype: modify
delete: nsSizeLimit
EOF
check_exit 4 "now the same refresh fails" svc_sync ro 1.1
last_says '^result: 4 Size limit exceeded$' "sizeLimitExceeded"
check "the admin puts nsSizeLimit -1 back" ds389_admin_modify <<EOF
dn: $DS389_SVC_DN
changetype: modify
add: nsSizeLimit
nsSizeLimit: -1
EOF
check "the refresh works again" svc_sync ro 1.1

# --- restart -------------------------------------------------------------------

cookie4=$(cookie)
old_pid=$DS389_PID old_port=$DS389_PORT
check "ds389_restart succeeds" ds389_restart
check "it runs as a new process" test "$DS389_PID" != "$old_pid"
check "the old one is gone" _ds389_gone "$old_pid"
check "on the same port" test "$DS389_PORT" = "$old_port"
check "still only on 127.0.0.1" only_loopback
check "the certificate survived the restart" value_is 'userCertificate;binary' "$T/x1.der"
check "the admin changes bob after the restart" ds389_replace bobby displayName "Bob Restarted"
check "syncrepl resumes from the cookie of before the restart" \
    svc_sync "ro/$cookie4" displayName
last_says '^displayName: Bob Restarted$' "and reports the change"
last_says '^# numEntries: 1$' "alone"

old_pid=$DS389_PID
check "ds389_kill succeeds" ds389_kill
check "the process is gone" _ds389_gone "$old_pid"
check_fails "nothing answers any more" \
    ldapsearch -x -H "$DS389_URI" -b "" -s base
check "ds389_restart after ds389_kill brings it back" ds389_restart
check "with the data" value_is 'userCertificate;binary' "$T/x1.der"
check "and the service account still binds" ldapwhoami -x -H "$DS389_URI" \
    -D "$DS389_SVC_DN" -y "$DS389_SVC_PW_FILE"

# --- a cookie older than the retro changelog -----------------------------------

check "the admin keeps change records for 1 s, trimmed every second" \
    ds389_admin_modify <<EOF
dn: cn=Retro Changelog Plugin,cn=plugins,cn=config
changetype: modify
replace: nsslapd-changelogmaxage
nsslapd-changelogmaxage: 1s
-
replace: nsslapd-changelog-trim-interval
nsslapd-changelog-trim-interval: 1
EOF
check "ds389_restart puts that in force" ds389_restart
check "a refresh gives a cookie" svc_sync ro 1.1
cookie5=$(cookie)
carol_sync=$(ds389_syncuuid "$(ds389_uniqueid "uid=carol,$DS389_PEOPLE")")
check "the admin deletes carol" ds389_delete_user carol
check "and changes bob twice" ds389_replace bobby displayName "Bob Once"
ds389_replace bobby displayName "Bob Twice" >/dev/null
# The changelog's first change number, from the rootDSE.
first_cn() {
	ldapsearch -x -LLL -H "$DS389_URI" -b "" -s base firstchangenumber |
	    sed -n 's/^firstchangenumber: //p'
}
trimmed() {  # the deletion of carol is no longer in the changelog
	i=0
	while [ $i -lt 100 ]; do
		[ "$(first_cn)" -gt $((${cookie5##*#} + 1)) ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
check "the server trims the changelog past the cookie (firstchangenumber)" trimmed
check "refreshOnly from the old cookie" svc_sync "ro/$cookie5" 1.1
last_says '^result: 0 Success$' "is accepted (not e-syncRefreshRequired)"
check_fails "and says nothing of carol's deletion: it is lost" \
    grep -q "$carol_sync" "$T/sync.out"

cs_done
