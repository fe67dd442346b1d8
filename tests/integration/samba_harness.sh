#!/bin/sh
# tests/integration/samba_harness.sh - the test Samba AD DC (samba.sh) and
# the Active Directory delegation certsync ships (schema/ad/delegate.sh).
#
# Checks that the private DC listens on its own address only and offers the
# controls certsync uses (DirSync, change notification, show deleted); that
# TLS verifies against the test CA only and simple binds need it; that users
# can be added and read (objectGUID in Microsoft's textual form); that the
# delegated service account may write userCertificate and
# userSMIMECertificate of users and inetOrgPersons under the base, but no
# other attribute, no computer, nothing outside the base; that it can run
# DirSync (and an account delegated without -r cannot) and change
# notification; that its keytab gets a Kerberos ticket and a GSSAPI bind
# works (sealed over ldap://; over ldaps:// only with "ldap server require
# strong auth = allow_sasl_over_tls" and no SASL security layer); and that
# samba_restart keeps the address and the data, also after samba_kill.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"
cs_need timeout mkfifo sed awk base64 cmp kinit klist
cs_setup
samba_start

ALICE=CN=alice,$SAMBA_USERS
# Kerberos for this test only: the realm's krb5.conf, a private cache.
KRB5_CONFIG=$SAMBA_KRB5_CONFIG
KRB5CCNAME=FILE:$T/krb5cc
export KRB5_CONFIG KRB5CCNAME

# --- the server ------------------------------------------------------------

# The local addresses of samba's listening TCP sockets, one "ADDR:PORT"
# (hex, as in /proc/net/tcp) a line.
listeners() {
	inodes=$(for fd in /proc/"$SAMBA_PID"/fd/*; do readlink "$fd"; done 2>/dev/null |
	    sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
	for f in /proc/net/tcp /proc/net/tcp6; do
		awk -v ino=" $inodes" '$4 == "0A" && index(ino, " " $10 " ") { print $2 }' "$f"
	done
}
# 127.1.X.Y as /proc/net/tcp writes it (little-endian hex).
ip_hex=$(echo "$SAMBA_IP" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }')
only_own_address() {
	l=$(listeners); echo "$l"
	[ -n "$l" ] || return 1
	for p in 0185 027C 0058; do  # 389, 636, 88
		printf '%s\n' "$l" | grep -qx "$ip_hex:$p" || { echo "nothing on port 0x$p"; return 1; }
	done
	! printf '%s\n' "$l" | grep -v "^$ip_hex:"
}
check "samba listens on $SAMBA_IP (389, 636, 88) and on no other address" only_own_address
check "$SAMBA_IP is on lo" sh -c "ip -o addr show dev lo | grep -F ' $SAMBA_IP/32 '"
check "the rootDSE answers over ldaps" ad_tool ldapsearch -x -LLL \
    -o ldif-wrap=no -H "$SAMBA_URI" -b "" -s base defaultNamingContext \
    supportedControl supportedSASLMechanisms
last_says "^defaultNamingContext: $SAMBA_BASE\$" "the naming context is $SAMBA_BASE"
last_says '^supportedControl: 1\.2\.840\.113556\.1\.4\.841$' "it offers DirSync (.841)"
last_says '^supportedControl: 1\.2\.840\.113556\.1\.4\.528$' "and change notification (.528)"
last_says '^supportedControl: 1\.2\.840\.113556\.1\.4\.417$' "and show deleted (.417)"
last_says '^supportedSASLMechanisms: GSSAPI$' "and SASL GSSAPI"
mode_600() { for f in "$@"; do [ "$(stat -c %a "$f")" = 600 ] || { echo "$f"; return 1; }; done; }
check "the password files, keytab and TLS keys are mode 600" mode_600 \
    "$SAMBA_ADMIN_PW_FILE" "$SAMBA_SVC_PW_FILE" "$SAMBA_KEYTAB" \
    "$T/samba/tls/server.key" "$T/samba/tls/ca.key"

# --- TLS ---------------------------------------------------------------------

admin_rootdse() {  # URI [ldapsearch options]
	a_uri=$1; shift
	ad_tool ldapsearch -x -LLL -H "$a_uri" "$@" -D "$SAMBA_ADMIN_DN" \
	    -y "$SAMBA_ADMIN_PW_FILE" -b "$SAMBA_ADMIN_DN" -s base dn
}
check "the admin binds over ldaps, the test CA verifying the DC" \
    admin_rootdse "$SAMBA_URI"
check "and over StartTLS (-ZZ)" admin_rootdse "$SAMBA_LDAP_URI" -ZZ
check_exit 8 "a simple bind without TLS is refused" ad_tool ldapsearch -x \
    -H "$SAMBA_LDAP_URI" -D "$SAMBA_ADMIN_DN" -y "$SAMBA_ADMIN_PW_FILE" \
    -b "" -s base
last_says 'Strong\(er\) authentication required' "with strongAuthRequired"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/other-ca.key" -subj "/CN=certsync test AD CA $$" -days 1 \
    -out "$T/other-ca.crt" 2>/dev/null
with_ca() {  # CA-FILE ldapsearch ARGS...: the same tool, another CA
	w_ca=$1; shift
	(unset LDAPNOINIT; HOME=$T/samba/home LDAPTLS_CACERT=$w_ca \
	    LDAPTLS_REQCERT=demand; export HOME LDAPTLS_CACERT LDAPTLS_REQCERT
	 exec "$@")
}
check "with_ca and the test CA work (the control for the next two)" \
    with_ca "$SAMBA_TLS_CA" ldapsearch -x -H "$SAMBA_URI" -b "" -s base
check_fails "another CA (same subject name) is refused over ldaps" \
    with_ca "$T/other-ca.crt" ldapsearch -x -H "$SAMBA_URI" -b "" -s base
check_fails "and over StartTLS" with_ca "$T/other-ca.crt" ldapsearch -x -ZZ \
    -H "$SAMBA_LDAP_URI" -b "" -s base

# --- users ---------------------------------------------------------------------

check "the admin adds a user" ad_add_user alice alice@certsync.test \
    'givenName: Alice' 'sn: Example' 'displayName: Alice Example' \
    'proxyAddresses: SMTP:alice@certsync.test' 'proxyAddresses: smtp:al@certsync.test'
check "the user is there" ad_get_attr "$ALICE" mail
last_says '^alice@certsync\.test$' "with its mail"
check "and both proxyAddresses" ad_get_attr "$ALICE" proxyAddresses
last_says '^SMTP:alice@certsync\.test$' "the primary SMTP:"
last_says '^smtp:al@certsync\.test$' "and the alias smtp:"
check "and userAccountControl 544 (enabled)" ad_get_attr "$ALICE" userAccountControl
last_says '^544$' "544"
check "a disabled user can be added" ad_add_user bob bob@certsync.test \
    'userAccountControl: 546' 'displayName: Bob Example'
check "with userAccountControl 546" ad_get_attr "CN=bob,$SAMBA_USERS" userAccountControl
last_says '^546$' "546"

check "ad_guid_text renders Microsoft's form" ad_guid_text A41GvUM4WUuvRyio8sdIPA==
last_says '^bd468d03-3843-4b59-af47-28a8f2c7483c$' "bd468d03-3843-4b59-af47-28a8f2c7483c"
alice_guid=$(ad_guid "$ALICE")
# Samba's own tools print GUIDs in that form.
samba_guid() {
	PASSWD_FILE=$SAMBA_ADMIN_PW_FILE HOME=$T/samba/home ldbsearch \
	    -H "$SAMBA_LDAP_URI" -U "$SAMBA_ADMIN_PRINCIPAL" \
	    --configfile="$SAMBA_CONF" -b "$ALICE" -s base objectGUID |
	    sed -n 's/^objectGUID: //p'
}
check "ad_guid agrees with ldbsearch ($alice_guid)" test "$alice_guid" = "$(samba_guid)"

# --- the service account (schema/ad/delegate.sh) -------------------------------

check "the service account binds and reads alice" ad_svc_search -LLL \
    -b "$ALICE" -s base '(objectClass=*)' mail proxyAddresses \
    userAccountControl objectGUID displayName
last_says '^mail: alice@certsync\.test$' "her mail"
last_says '^proxyAddresses: smtp:al@certsync\.test$' "her proxyAddresses"
last_says '^userAccountControl: 544$' "her userAccountControl"
last_says '^objectGUID:: ' "her objectGUID"
last_says '^displayName: Alice Example$' "her displayName"
check "it binds by its UPN too" ad_tool ldapsearch -x -H "$SAMBA_URI" \
    -D "$SAMBA_SVC_UPN" -y "$SAMBA_SVC_PW_FILE" -b "" -s base

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/x.key" -subj /CN=x -days 1 -outform DER -out "$T/x.der" 2>/dev/null
openssl x509 -inform DER -in "$T/x.der" -out "$T/x.pem"
openssl crl2pkcs7 -nocrl -certfile "$T/x.pem" -outform DER -out "$T/x.p7b"

svc_modify() {
	ad_tool ldapmodify -x -H "$SAMBA_URI" -D "$SAMBA_SVC_DN" \
	    -y "$SAMBA_SVC_PW_FILE"
}
svc_replace() {  # DN ATTR VALUE-SPEC
	printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s\n' "$1" "$2" "$3" |
	    svc_modify
}
# The value of ATTR of DN (base64 as ldapsearch prints it) equals FILE.
value_is() {
	v=$(ad_get_attr "$1" "$2")
	[ -n "$v" ] && printf '%s' "$v" | base64 -d | cmp - "$3"
}

check "the service account can replace userCertificate" \
    svc_replace "$ALICE" userCertificate "userCertificate:< file://$T/x.der"
check "the directory holds that certificate" value_is "$ALICE" userCertificate "$T/x.der"
check "the service account can replace userSMIMECertificate" \
    svc_replace "$ALICE" userSMIMECertificate "userSMIMECertificate:< file://$T/x.p7b"
check "the directory holds that PKCS#7" value_is "$ALICE" userSMIMECertificate "$T/x.p7b"
check "the service account can delete userSMIMECertificate" svc_modify <<EOF
dn: $ALICE
changetype: modify
delete: userSMIMECertificate
EOF
check "and put it back" \
    svc_replace "$ALICE" userSMIMECertificate "userSMIMECertificate:< file://$T/x.p7b"
check "it can write a disabled user's certificate" \
    svc_replace "CN=bob,$SAMBA_USERS" userCertificate "userCertificate:< file://$T/x.der"

check_exit 50 "the service account cannot modify description" \
    svc_replace "$ALICE" description 'description: evil'
last_says 'Insufficient access' "insufficientAccess"
check_exit 50 "nor mail" svc_replace "$ALICE" mail 'mail: evil@certsync.test'
check_exit 50 "nor proxyAddresses" \
    svc_replace "$ALICE" proxyAddresses 'proxyAddresses: SMTP:evil@certsync.test'
check "mail is unchanged" ad_get_attr "$ALICE" mail
last_says '^alice@certsync\.test$' "still alice@certsync.test"
check_exit 50 "the service account cannot add users" svc_modify <<EOF
dn: CN=eve,$SAMBA_USERS
changetype: add
objectClass: user
sAMAccountName: eve
EOF

check "the admin adds an inetOrgPerson, a computer and an OU outside the base" ad_modify <<EOF
dn: CN=carol,$SAMBA_USERS
changetype: add
objectClass: inetOrgPerson
sAMAccountName: carol
mail: carol@certsync.test
userAccountControl: 544

dn: CN=ws1,$SAMBA_USERS
changetype: add
objectClass: computer
sAMAccountName: ws1\$
userAccountControl: 4096

dn: OU=Elsewhere,$SAMBA_BASE
changetype: add
objectClass: organizationalUnit

dn: CN=dave,OU=Elsewhere,$SAMBA_BASE
changetype: add
objectClass: user
sAMAccountName: dave
mail: dave@certsync.test
userAccountControl: 544
EOF
check "the service account can write an inetOrgPerson's userCertificate" \
    svc_replace "CN=carol,$SAMBA_USERS" userCertificate "userCertificate:< file://$T/x.der"
check_exit 50 "but not a computer's" \
    svc_replace "CN=ws1,$SAMBA_USERS" userCertificate "userCertificate:< file://$T/x.der"
check_exit 50 "nor that of a user outside $SAMBA_USERS" \
    svc_replace "CN=dave,OU=Elsewhere,$SAMBA_BASE" userCertificate \
    "userCertificate:< file://$T/x.der"

# The ACEs delegate.sh added: four on the base, one on the domain's root.
dsacl_get() {
	PASSWD_FILE=$SAMBA_ADMIN_PW_FILE HOME=$T/samba/home samba-tool dsacl get \
	    -H "$SAMBA_LDAP_URI" -U "$SAMBA_ADMIN_PRINCIPAL" \
	    -s "$SAMBA_CONF" --objectdn="$1"
}
svc_sid=$(PASSWD_FILE=$SAMBA_ADMIN_PW_FILE HOME=$T/samba/home ldbsearch \
    -H "$SAMBA_LDAP_URI" -U "$SAMBA_ADMIN_PRINCIPAL" \
    --configfile="$SAMBA_CONF" -b "$SAMBA_SVC_DN" -s base objectSid |
    sed -n 's/^objectSid: //p')
count_aces() {  # DN WANT: the account's explicit ACEs on DN, each once
	dsacl_get "$1" | grep -o "([^)]*;$svc_sid)" | grep -v '^([A-Z]*;[A-Z]*ID' \
	    > "$T/aces" || :
	cat "$T/aces"
	n=$(sort -u "$T/aces" | wc -l) n2=$(wc -l < "$T/aces")
	echo "$n distinct, $n2 in all"
	[ "$n" -eq "$2" ] && [ "$n2" -eq "$2" ]
}
run_delegate() {  # delegate.sh's arguments
	PASSWD_FILE=$SAMBA_ADMIN_PW_FILE KRB5_CONFIG=$SAMBA_KRB5_CONFIG \
	    HOME=$T/samba/home sh "$CS_SRCDIR/schema/ad/delegate.sh" \
	    -H "$SAMBA_LDAP_URI" -U "$SAMBA_ADMIN_PRINCIPAL" \
	    -s "$SAMBA_CONF" "$@"
}
check "delegate.sh put four ACEs for the account on $SAMBA_USERS" \
    count_aces "$SAMBA_USERS" 4
last_says "^\(OA;CIIO;WP;bf967a7f-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;$svc_sid\)" \
    "WP userCertificate, inherited by user objects"
last_says "^\(OA;CIIO;WP;e16a9db2-403c-11d1-a9c0-0000f80367c1;4828cc14-1437-45bc-9b07-ad6f015e5f28;$svc_sid\)" \
    "WP userSMIMECertificate, inherited by inetOrgPerson objects"
check "and one on $SAMBA_BASE" count_aces "$SAMBA_BASE" 1
last_says "^\(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;$svc_sid\)" \
    "Replicating Directory Changes"
check "running delegate.sh again succeeds" \
    run_delegate -r "$SAMBA_USERS" "$SAMBA_SVC_NAME"
check "and adds no ACE twice" count_aces "$SAMBA_USERS" 4
check "nor on the domain's root" count_aces "$SAMBA_BASE" 1
check_exit 1 "delegate.sh refuses a base that does not exist" \
    run_delegate "OU=Nowhere,$SAMBA_BASE" "$SAMBA_SVC_NAME"
check_exit 64 "and a missing ACCOUNT (usage)" run_delegate "$SAMBA_USERS"

# --- DirSync -------------------------------------------------------------------

check "DirSync works as the service account" ad_svc_search -LLL \
    -b "$SAMBA_BASE" -E '!dirSync=0/0/' '(&(objectClass=user)(mail=*))' \
    objectGUID mail
last_says "^dn: $ALICE\$" "it returns alice"
last_says "^objectGUID:: " "with her objectGUID"
last_says '^# DirSync control continueFlag=0$' "all at once (continueFlag=0)"
cookie=$(sed -n 's/^# cookie:: //p' "$T/last.out")
check "with a cookie" test -n "$cookie"
check "the admin changes alice" ad_modify <<EOF
dn: $ALICE
changetype: modify
replace: displayName
displayName: Alice Changed
EOF
check "DirSync from the cookie reports the change" ad_svc_search -LLL \
    -b "$SAMBA_BASE" -E "!dirSync=0/0/$cookie" '(&(objectClass=user)(mail=*))' \
    displayName
last_says '^displayName: Alice Changed$' "alice's new displayName"
check_fails "and not bob, who did not change" grep -q "^dn: CN=bob," "$T/last.out"
cookie=$(sed -n 's/^# cookie:: //p' "$T/last.out")

printf 'Cs-svc2-%s' "$(openssl rand -hex 12)" > "$T/svc2.pass"
SVC2_DN=CN=certsync2,OU=Services,$SAMBA_BASE
check "the admin adds an OU for service accounts" ad_modify <<EOF
dn: OU=Services,$SAMBA_BASE
changetype: add
objectClass: organizationalUnit
EOF
check "delegate.sh without -r delegates a second account, made in that OU (-c)" \
    run_delegate -p "$T/svc2.pass" -c "OU=Services,$SAMBA_BASE" "$SAMBA_USERS" certsync2
last_says "^delegate.sh: created $SVC2_DN\$" "it says it created $SVC2_DN"
check "the account is there, enabled, its password never expiring" \
    ad_get_attr "$SVC2_DN" userAccountControl
last_says '^66048$' "userAccountControl 66048"
svc2_search() {
	ad_tool ldapsearch -o ldif-wrap=no -x -H "$SAMBA_URI" \
	    -D "$SVC2_DN" -y "$T/svc2.pass" "$@"
}
svc2_modify() {
	ad_tool ldapmodify -x -H "$SAMBA_URI" -D "$SVC2_DN" -y "$T/svc2.pass"
}
check "it can write alice's userCertificate" svc2_modify <<EOF
dn: $ALICE
changetype: modify
replace: userCertificate
userCertificate:< file://$T/x.der
EOF
check_exit 50 "but without Replicating Directory Changes DirSync is refused" \
    svc2_search -LLL -b "$SAMBA_BASE" -E '!dirSync=0/0/' '(objectClass=user)' mail
last_says 'insufficient access rights' "insufficientAccess from the dirsync module"
check "DirSync with the object-security flag still works for it" svc2_search \
    -LLL -b "$SAMBA_BASE" -E '!dirSync=1/0/' '(&(objectClass=user)(mail=*))' mail
last_says "^dn: $ALICE\$" "and returns alice"
check_exit 50 "DirSync below the naming context's root is refused" \
    ad_svc_search -LLL -b "$SAMBA_USERS" -E '!dirSync=0/0/' '(objectClass=user)' mail

# --- change notification ---------------------------------------------------------

# The search's output goes into a FIFO that this shell holds open, read up to
# a marker with a time bound (as in slapd_harness.sh).
mkfifo "$T/notif.fifo"
exec 3<>"$T/notif.fifo"
(unset LDAPNOINIT; HOME=$T/samba/home LDAPTLS_CACERT=$SAMBA_TLS_CA \
    LDAPTLS_REQCERT=demand; export HOME LDAPTLS_CACERT LDAPTLS_REQCERT
 exec ldapsearch -o ldif-wrap=no -x -H "$SAMBA_URI" -D "$SAMBA_SVC_DN" \
    -y "$SAMBA_SVC_PW_FILE" -b "$SAMBA_USERS" -s one -E '!serverNotif' \
    '(objectClass=*)' description) >&3 2>&1 &
notif_pid=$!
cs_on_exit "kill $notif_pid 2>/dev/null"
read_until() { timeout 10 sed -n "/$1/{p;q}" <&3; }
# The search is registered once samba answers anything else on it; a
# notification search returns nothing until a change, so poll a change
# until the search reports one (each round a new value).
notified() {
	n=0
	while [ $n -lt 20 ]; do
		n=$((n + 1))
		printf 'dn: %s\nchangetype: modify\nreplace: description\ndescription: round %s\n' \
		    "$ALICE" "$n" | ad_modify >/dev/null || return 1
		if timeout 0.5 sed -n '/^description: round /{p;q}' <&3 | grep .; then
			return 0
		fi
	done
	return 1
}
check "change notification as the service account reports a change" notified
check "the admin changes alice's description again" ad_modify <<EOF
dn: $ALICE
changetype: modify
replace: description
description: the final round
EOF
check "the search reports that within 10 s" read_until '^description: the final round$'
kill "$notif_pid" 2>/dev/null || :
wait "$notif_pid" 2>/dev/null || :
exec 3<&-

# --- Kerberos and GSSAPI -----------------------------------------------------------

check "kinit with the service account's keytab" \
    kinit -k -t "$SAMBA_KEYTAB" "$SAMBA_SVC_PRINCIPAL"
check "gets a ticket" klist
last_says "^Default principal: $SAMBA_SVC_PRINCIPAL\$" "for $SAMBA_SVC_PRINCIPAL"
gssapi() {  # URI [ldapsearch options]
	g_uri=$1; shift
	ad_tool ldapsearch -LLL -Y GSSAPI -H "$g_uri" "$@" -b "$ALICE" -s base mail
}
check "a GSSAPI bind over ldap:// works (sealed)" gssapi "$SAMBA_LDAP_URI"
last_says "^SASL username: $SAMBA_SVC_PRINCIPAL\$" "as the service account"
last_says '^SASL SSF: (128|256)$' "with a security layer"
last_says '^mail: alice@certsync\.test$' "and reads alice"
check_exit 53 "over ldaps:// Samba refuses a SASL security layer inside TLS" \
    gssapi "$SAMBA_URI"
last_says 'Sign or Seal are not allowed if TLS is used' "(unwillingToPerform)"
check_exit 8 "and, by default, a GSSAPI bind without one" \
    gssapi "$SAMBA_URI" -O maxssf=0
last_says 'Sign or Seal are required' "(strongAuthRequired)"
SAMBA_STRONG_AUTH=allow_sasl_over_tls
check "samba_restart with ldap server require strong auth = allow_sasl_over_tls" \
    samba_restart
check "GSSAPI over ldaps:// without a layer works then" \
    gssapi "$SAMBA_URI" -O maxssf=0
last_says "^SASL username: $SAMBA_SVC_PRINCIPAL\$" "as the service account"
last_says '^SASL SSF: 0$' "with no security layer"
last_says '^mail: alice@certsync\.test$' "and reads alice"
SAMBA_STRONG_AUTH=
check "samba_restart back to Samba's default" samba_restart

# --- restart -----------------------------------------------------------------------

old_pid=$SAMBA_PID old_ip=$SAMBA_IP
check "samba_restart succeeds" samba_restart
check "it runs as a new process" test "$SAMBA_PID" != "$old_pid"
check "on the same address" test "$SAMBA_IP" = "$old_ip"
check "still only there" only_own_address
check "the certificate survived the restart" value_is "$ALICE" userCertificate "$T/x.der"
check "the objectGUID too" test "$(ad_guid "$ALICE")" = "$alice_guid"
check "the admin changes alice after the restart" ad_modify <<EOF
dn: $ALICE
changetype: modify
replace: displayName
displayName: Alice Restarted
EOF
check "DirSync resumes from the cookie of before the restart" ad_svc_search \
    -LLL -b "$SAMBA_BASE" -E "!dirSync=0/0/$cookie" '(&(objectClass=user)(mail=*))' \
    displayName
last_says '^displayName: Alice Restarted$' "and reports the change"

old_pid=$SAMBA_PID
check "samba_kill succeeds" samba_kill
check_fails "the process is gone" kill -0 "$old_pid"
check_fails "nothing answers any more" \
    ad_tool ldapsearch -x -H "$SAMBA_URI" -b "" -s base
check "samba_restart after samba_kill brings it back" samba_restart
check "with the data" value_is "$ALICE" userCertificate "$T/x.der"
check "and the service account still binds" ad_svc_search -LLL -b "$ALICE" \
    -s base '(objectClass=*)' mail
last_says '^mail: alice@certsync\.test$' "and reads alice"

cs_done
