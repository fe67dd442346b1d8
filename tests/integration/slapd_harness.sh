#!/bin/sh
# tests/integration/slapd_harness.sh - the test OpenLDAP server (slapd.sh) and
# the directory configuration certsync ships (schema/openldap/*.ldif).
#
# Checks that the private slapd listens on 127.0.0.1 only; that syncrepl
# (refreshOnly, refreshAndPersist, resuming from a cookie) works for the
# certsync service account under the shipped ACL; that the account may write
# userCertificate;binary and userSMIMECertificate but not mail or
# userPassword, and cannot read userPassword; that the shipped rules went in
# front of the existing ones without replacing them; and that slapd_restart
# keeps the port and the data, also after slapd_kill.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need timeout mkfifo sed awk base64 cmp ldapwhoami
LDAPNOINIT=1; export LDAPNOINIT  # no ldap.conf or .ldaprc
cs_setup
slapd_start

ALICE=uid=alice,$SLAPD_PEOPLE

# --- the server ------------------------------------------------------------

# The listening sockets on SLAPD_PORT, as "file address" lines.
listeners() {
	hex=$(printf '%04X' "$SLAPD_PORT")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		awk -v f="$f" -v p=":$hex" \
		    '$4 == "0A" && substr($2, length($2) - 4) == p { print f, $2 }' "$f"
	done
}
only_loopback() {
	l=$(listeners); echo "$l"
	[ "$l" = "/proc/net/tcp 0100007F:$(printf '%04X' "$SLAPD_PORT")" ]
}
check "slapd listens on 127.0.0.1:$SLAPD_PORT and on no other address" only_loopback
check "it answers on $SLAPD_URI" \
    ldapsearch -x -LLL -H "$SLAPD_URI" -b "" -s base namingContexts
last_says "^namingContexts: $SLAPD_BASE\$" "its naming context is $SLAPD_BASE"
check_fails "nothing answers on another loopback address (127.0.0.2)" \
    ldapsearch -x -H "ldap://127.0.0.2:$SLAPD_PORT" -b "" -s base
mode_600() { for f in "$@"; do [ "$(stat -c %a "$f")" = 600 ] || return 1; done; }
check "the password files are mode 600" \
    mode_600 "$SLAPD_ADMIN_PW_FILE" "$SLAPD_SVC_PW_FILE"

# --- the shipped configuration is in place -----------------------------------

check "cn=config is readable over ldapi as EXTERNAL" ldapsearch -LLL -Q \
    -o ldif-wrap=no -Y EXTERNAL -H "$SLAPD_LDAPI" -b 'olcDatabase={1}mdb,cn=config' \
    -s base olcAccess olcDbIndex
last_says '^olcAccess: \{0\}to dn.subtree="ou=people,dc=example,dc=test" attrs=userCertificate,userSMIMECertificate by dn.exact="cn=certsync,ou=services,dc=example,dc=test" write by \* break$' \
    "acl.ldif's write rule is {0}"
last_says '^olcAccess: \{2\}to dn.subtree="ou=people,dc=example,dc=test" by dn.exact="cn=certsync,ou=services,dc=example,dc=test" none by \* break$' \
    "acl.ldif's deny-the-rest rule is {2}"
last_says '^olcAccess: \{3\}to attrs=userPassword by self write by anonymous auth by \* none$' \
    "the existing rules follow, unchanged ({0} became {3})"
last_says '^olcAccess: \{5\}to \* by \* read$' "the existing last rule is {5}"
last_says '^olcDbIndex: entryUUID eq$' "entryUUID is indexed"
last_says '^olcDbIndex: entryCSN eq$' "entryCSN is indexed"
check "the syncprov overlay is on the database" ldapsearch -LLL -Q \
    -Y EXTERNAL -H "$SLAPD_LDAPI" -b 'olcDatabase={1}mdb,cn=config' \
    '(objectClass=olcSyncProvConfig)' olcSpCheckpoint olcSpSessionlog
last_says '^olcSpCheckpoint: 100 10$' "with olcSpCheckpoint 100 10"
last_says '^olcSpSessionlog: 10000$' "and olcSpSessionlog 10000"
check "the service account can bind" ldapwhoami -x -H "$SLAPD_URI" \
    -D "$SLAPD_SVC_DN" -y "$SLAPD_SVC_PW_FILE"
last_says "^dn:$SLAPD_SVC_DN\$" "and is who it says"

# --- users and syncrepl --------------------------------------------------------

check "a user can be added" ldap_add_user alice alice@example.test \
    "Alice Example" Alice Example
check "the user is there" ldap_get_attr "$ALICE" mail entryUUID
last_says '^mail: alice@example\.test$' "with its mail"
alice_uuid=$(sed -n 's/^entryUUID: //p' "$T/last.out")

check "refreshOnly syncrepl works as the service account" ldap_svc_search \
    -b "$SLAPD_PEOPLE" -E sync=ro '(&(objectClass=inetOrgPerson)(mail=*))' \
    '*' entryUUID entryCSN
last_says "^dn: $ALICE\$" "it returns the user"
last_says "^entryUUID: $alice_uuid\$" "with its entryUUID"
last_says '^entryCSN: [0-9]{14}\.[0-9]{6}Z#' "and its entryCSN"
last_says '^mail: alice@example\.test$' "and its mail"
last_says '^displayName: Alice Example$' "and its displayName"
last_says '^# cookie: rid=[0-9]+,csn=' "and ends with a sync cookie"
cookie=$(sed -n 's/^# cookie: //p' "$T/last.out")

# refreshAndPersist: the search's output goes into a FIFO that this shell
# holds open, read up to a marker with a time bound.
mkfifo "$T/rp.fifo"
exec 3<>"$T/rp.fifo"
# ldapsearch itself, not through a function, so that $! is its pid.
ldapsearch -o ldif-wrap=no -x -H "$SLAPD_URI" -D "$SLAPD_SVC_DN" \
    -y "$SLAPD_SVC_PW_FILE" -b "$SLAPD_PEOPLE" -E sync=rp '(mail=*)' \
    entryUUID mail >&3 2>&1 &
rp_pid=$!
cs_on_exit "kill $rp_pid 2>/dev/null"
read_until() { timeout 10 sed -n "/$1/{p;q}" <&3; }
check "refreshAndPersist as the service account ends its refresh" \
    read_until '^# refresh done'
check "a user for the persist stage can be added" ldap_add_user bob \
    bob@example.test "Bob Example"
check "the persist stage reports the new user" read_until '^dn: uid=bob,'
kill "$rp_pid" 2>/dev/null || :
wait "$rp_pid" 2>/dev/null || :
exec 3<&-

# --- what the service account may write -------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/x.key" -subj /CN=x -days 1 -outform DER -out "$T/x.der" 2>/dev/null
openssl x509 -inform DER -in "$T/x.der" -out "$T/x.pem"
openssl crl2pkcs7 -nocrl -certfile "$T/x.pem" -outform DER -out "$T/x.p7b"

svc_modify() {
	ldapmodify -x -H "$SLAPD_URI" -D "$SLAPD_SVC_DN" \
	    -y "$SLAPD_SVC_PW_FILE"
}
svc_replace() {  # ATTR VALUE-SPEC
	printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s\n' "$ALICE" "$1" "$2" |
	    svc_modify
}
# The value of ATTR of alice (base64 as ldapsearch prints it) equals FILE.
value_is() {
	v=$(ldap_get_attr "$ALICE" "$1" | sed -n "s/^$1:: //p")
	[ -n "$v" ] && printf '%s' "$v" | base64 -d | cmp - "$2"
}

check "the service account can replace userCertificate;binary" \
    svc_replace 'userCertificate;binary' "userCertificate;binary:< file://$T/x.der"
check "the directory holds that certificate" value_is 'userCertificate;binary' "$T/x.der"
check "the service account can replace userSMIMECertificate" \
    svc_replace userSMIMECertificate "userSMIMECertificate:< file://$T/x.p7b"
check "the directory holds that PKCS#7" value_is userSMIMECertificate "$T/x.p7b"
check "the service account can delete userSMIMECertificate" svc_modify <<EOF
dn: $ALICE
changetype: modify
delete: userSMIMECertificate
EOF
check "the service account puts it back" \
    svc_replace userSMIMECertificate "userSMIMECertificate:< file://$T/x.p7b"

check_exit 50 "the service account cannot modify mail" \
    svc_replace mail 'mail: evil@example.test'
last_says 'Insufficient access' "insufficientAccess"
check_exit 50 "nor displayName" svc_replace displayName 'displayName: Evil'
check_exit 50 "nor userPassword" svc_replace userPassword 'userPassword: evil'
check "mail is unchanged" ldap_get_attr "$ALICE" mail
last_says '^mail: alice@example\.test$' "still alice@example.test"
check_exit 50 "the service account cannot add users" svc_modify <<EOF
dn: uid=eve,$SLAPD_PEOPLE
changetype: add
objectClass: inetOrgPerson
uid: eve
cn: Eve
sn: Eve
EOF

# --- what the service account may not read --------------------------------

check "the admin sets a password for alice" ldap_admin_modify <<EOF
dn: $ALICE
changetype: modify
replace: userPassword
userPassword: alice-secret
-
replace: telephoneNumber
telephoneNumber: +1 555 0100
EOF
# Alice's entry as the service account sees it, asking for ATTR.
svc_reads() {
	ldap_svc_search -LLL -b "$ALICE" -s base '(objectClass=*)' "$1" \
	    > "$T/svc.out" || return 1
	cat "$T/svc.out"
	grep -q "^dn: $ALICE\$" "$T/svc.out" || return 1
	grep -qi "^$1:" "$T/svc.out"
}
check "the service account reads alice's mail" svc_reads mail
check_fails "the service account cannot read alice's userPassword" \
    svc_reads userPassword
last_says "^dn: $ALICE\$" "though it sees the entry"
check_fails "nor other personal attributes (telephoneNumber)" \
    svc_reads telephoneNumber
check "an anonymous client still gets the existing rules' read access" \
    ldapsearch -x -LLL -H "$SLAPD_URI" -b "$ALICE" -s base telephoneNumber
last_says '^telephoneNumber: ' "(telephoneNumber via the old {2}, now {5})"

# --- restart -------------------------------------------------------------------

old_pid=$SLAPD_PID old_port=$SLAPD_PORT
check "slapd_restart succeeds" slapd_restart
check "it runs as a new process" test "$SLAPD_PID" != "$old_pid"
check "on the same port" test "$SLAPD_PORT" = "$old_port"
check "still only on 127.0.0.1" only_loopback
check "the certificate survived the restart" value_is 'userCertificate;binary' "$T/x.der"
check "the admin changes alice after the restart" ldap_admin_modify <<EOF
dn: $ALICE
changetype: modify
replace: displayName
displayName: Alice Renamed
EOF
check "syncrepl resumes from the cookie of before the restart" \
    ldap_svc_search -b "$SLAPD_PEOPLE" -E "sync=ro/$cookie" '(mail=*)' displayName
last_says '^displayName: Alice Renamed$' "and reports the change"

# --- limits.ldif: more users than slapd's default size limit (500) ----------

many_users() {
	i=0
	while [ $i -lt 501 ]; do
		printf 'dn: uid=many%d,%s\nchangetype: add\nobjectClass: inetOrgPerson\n' \
		    $i "$SLAPD_PEOPLE"
		printf 'uid: many%d\ncn: Many %d\nsn: Many\nmail: many%d@example.test\n\n' \
		    $i $i $i
		i=$((i + 1))
	done
}
svc_count() {
	ldap_svc_search -b "$SLAPD_PEOPLE" '(mail=*)' 1.1 >"$T/many.out" || return
	test "$(grep -c '^dn: ' "$T/many.out")" -ge 501
}
add_many() { many_users | ldap_admin_modify >/dev/null; }
apply_limits() { _slapd_ldif limits.ldif | ldap_config_modify >"$T/limits.log" 2>&1; }
check "501 more users are added" add_many
check_exit 4 "without limits.ldif the service account's search of them hits the size limit" \
    svc_count
check "limits.ldif applies" apply_limits
check "with it the service account reads all of them" svc_count

old_pid=$SLAPD_PID
check "slapd_kill succeeds" slapd_kill
check_fails "the process is gone" kill -0 "$old_pid"
check_fails "nothing answers any more" \
    ldapsearch -x -H "$SLAPD_URI" -b "" -s base
check "slapd_restart after slapd_kill brings it back" slapd_restart
check "with the data" value_is 'userCertificate;binary' "$T/x.der"
check "and the service account still binds" ldapwhoami -x -H "$SLAPD_URI" \
    -D "$SLAPD_SVC_DN" -y "$SLAPD_SVC_PW_FILE"

cs_done
