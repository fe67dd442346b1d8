#!/bin/sh
# agent_hold.sh - reversible first: a departed user's certificates are put
# on hold, come back with the user, and are revoked for good after
# [reconcile] hold_days.  certsyncd (syncrepl, persistent) against a real
# slapd; the CRL read back by openssl and NSS.
#
#  - alice leaves the filter (her mail removed): both her certificates are
#    on hold (certsyncctl list: on-hold), withdrawn from her entry, on the
#    CRL as certificateHold; her keys kept (archived, and still in the
#    keystore).  openssl verify -crl_check and NSS (certutil -V with the
#    CRL imported by crlutil) refuse the encryption certificate as revoked.
#    Her mail restored (within hold_days): the same certificates (the same
#    DER values) are in her entry again, active, off the CRL, and accepted
#    again by openssl and by NSS once it has the new CRL; nothing issued;
#  - carol moves out of the base (modrdn to ou=former), her address changes
#    there, and she moves back: new certificates for the new address, the
#    held ones revoked as affiliationChanged, with the date of their hold;
#  - bob is deleted: on hold; certsyncd restarted with the test hook
#    CERTSYNC_HOLD_SECONDS=2 (failpoint builds only: hold_days in seconds):
#    his certificates are revoked for good as cessationOfOperation, still
#    dated when they were put on hold, his encryption key in the archive
#    (mode 600, opening with the archive password) and gone from the
#    keystore;
#  - dave, who stays, is never touched.
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify ldapmodrdn ldapdelete openssl certutil crlutil
if ! grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	echo "SKIP: $CS_BUILDDIR was not configured with --enable-failpoints"
	exit 77
fi
unset CERTSYNC_HOLD_SECONDS
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
cat >> "$CONF" <<CONF
[log]
level = info
CONF
for u in alice bob carol dave; do
	ldap_add_user "$u" "$u@example.test" "$(echo "$u" | sed 's/./\U&/') Example" >/dev/null
done
ldap_admin_modify >/dev/null <<LDIF
dn: ou=former,$SLAPD_BASE
changetype: add
objectClass: organizationalUnit
ou: former
LDIF
A="uid=alice,$SLAPD_PEOPLE"

n_status() { ctl list | awk -v s="$1" -v a="$2" 'NR > 1 && $1 == s && $NF == a' | wc -l; }
status_is() { # STATUS ADDRESS N
	n=$(n_status "$1" "$2"); echo "$n $1 certificate(s) for $2, wanted $3"; [ "$n" -eq "$3" ]
}
serials_of() { ctl list | awk -v a="$1" 'NR > 1 && $NF == a { print $3 }' | sort; }
values() { cs_dir_values "$1" 'userCertificate;binary'; }
no_values() { [ -z "$(values "$1")" ]; }
crl_reason() { # SERIAL: its CRL reason ("none" when not listed)
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text | awk -v s="$1" '
	    /Serial Number:/ { on = ($3 == s); if (on) found = 1 }
	    on && /CRL Reason Code:/ { getline; gsub(/^ +/, ""); r = $0 }
	    END { print found ? (r ? r : "unspecified") : "none" }'
}
crl_date() { # SERIAL: its revocation date on the CRL
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text | awk -v s="$1" '
	    /Serial Number:/ { on = ($3 == s) }
	    on && /Revocation Date:/ { sub(/.*Revocation Date: /, ""); print; exit }'
}
crl_says() { # SERIAL REASON
	r=$(crl_reason "$1"); echo "$1 on the CRL: $r, wanted $2"; [ "$r" = "$2" ]
}
log_has() { grep -Eq -- "$1" "$T/agent.log"; }
pem_of() { ctl show "$1" --pem | sed -n '/BEGIN CERT/,/END CERT/p'; }
ossl_verify() { # PEM: openssl with the current CRL
	openssl crl -inform DER -in "$T/crl/ca.crl" -out "$T/crl.pem"
	openssl verify -crl_check -CAfile "$T/ca/ca.crt" -CRLfile "$T/crl.pem" "$1"
}
ossl_revoked() { ossl_verify "$1" > "$T/v.out" 2>&1; cat "$T/v.out"; grep -q 'certificate revoked' "$T/v.out"; }
NSSDB=sql:$T/nss
nss_setup() {
	mkdir -p "$T/nss" && certutil -N -d "$NSSDB" --empty-password &&
	    certutil -A -d "$NSSDB" -n ca -t "CT,C,C" -a -i "$T/ca/ca.crt" &&
	    certutil -A -d "$NSSDB" -n alice-enc -t ",," -a -i "$1"
}
nss_crl() { crlutil -I -d "$NSSDB" -t 1 -i "$T/crl/ca.crl"; }
nss_verify() { certutil -V -d "$NSSDB" -n alice-enc -u R 2>&1; }
nss_revoked() { nss_verify | tee "$T/nss.out"; grep -qi 'revoked' "$T/nss.out"; }
nss_valid() { nss_verify | tee "$T/nss.out"; grep -q 'certificate is valid' "$T/nss.out"; }
issued() { ctl audit --last 0 | grep -c ' issue ' || :; }

echo "# four users enrolled"
cs_agent_start
for u in alice bob carol dave; do
	check "$u enrolled" cs_wait_for 60 status_is active "$u@example.test" 2
done
two_values() { [ "$(values "$1" | wc -l)" -eq 2 ]; }
check "alice's certificates are in her entry" cs_wait_for 30 two_values "$A"
values "$A" > "$T/alice.values"
A_ENC=$(cs_serial encryption alice@example.test)
A_SIG=$(cs_serial signing alice@example.test)
pem_of "$A_ENC" > "$T/alice-enc.pem"
ISSUED=$(issued)
DAVE=$(serials_of dave@example.test)

echo "# alice leaves the filter: on hold"
printf 'dn: %s\nchangetype: modify\ndelete: mail\n' "$A" | ldap_admin_modify >/dev/null
check "her two certificates are on hold" cs_wait_for 30 status_is on-hold alice@example.test 2
check "... withdrawn from her entry" cs_wait_for 30 no_values "$A"
check "... on the CRL as certificateHold" cs_wait_for 30 crl_says "$A_ENC" "Certificate Hold"
check "... both" crl_says "$A_SIG" "Certificate Hold"
check "certsyncctl show says since when" sh -c \
    "'$CTL' -c '$CONF' show $A_ENC | grep -Eq '^On hold: +since [0-9-]+ [0-9:]+Z \\(certificateHold\\)'"
check "her encryption key is archived" test -f "$T/archive/encryption-$A_ENC.p12"
check "... and still in the keystore" test -f "$T/keystore/encryption-$A_ENC.p12"
check "the log says it, naming the reason" log_has "hold: the user is gone from the directory"
HELD_DATE=$(crl_date "$A_ENC")
check "openssl verify -crl_check: revoked" ossl_revoked "$T/alice-enc.pem"
check "NSS: a database with the CA and her encryption certificate" nss_setup "$T/alice-enc.pem"
check "NSS: the CRL imported" nss_crl
check "NSS certutil -V: revoked" nss_revoked

echo "# alice is back within hold_days: the same certificates"
# NSS keeps the CRL it holds unless the new one's thisUpdate is later
# (crlutil: "New CRL is not later than the current one"), and thisUpdate
# counts whole seconds: the lift's CRL must come in a later second.
crl_second() {
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -lastupdate |
	    sed 's/^lastUpdate=//' | xargs -I{} date -d {} +%s
}
later_second() { [ "$(date +%s)" -gt "$(crl_second)" ]; }
check "the clock is past the hold's CRL" cs_wait_for 5 later_second
printf 'dn: %s\nchangetype: modify\nadd: mail\nmail: alice@example.test\n' "$A" |
    ldap_admin_modify >/dev/null
check "her two certificates are active again" cs_wait_for 30 status_is active alice@example.test 2
same_values() { values "$A" > "$T/alice.now"; cmp -s "$T/alice.values" "$T/alice.now"; }
check "the same DER values are in her entry again" cs_wait_for 30 same_values
check "her serials left the CRL" cs_wait_for 30 crl_says "$A_ENC" none
check "... both" crl_says "$A_SIG" none
check "nothing was issued" test "$(issued)" -eq "$ISSUED"
check "the lift is logged" log_has "lifted the hold on encryption certificate $A_ENC"
check "openssl verify -crl_check with the new CRL: OK" ossl_verify "$T/alice-enc.pem"
check "NSS: the new CRL imported" nss_crl
check "NSS certutil -V: valid again" nss_valid

echo "# carol moves out, her address changes, she moves back"
C_OLD=$(serials_of carol@example.test)
LDAPNOINIT=1 ldapmodrdn -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" \
    -s "ou=former,$SLAPD_BASE" "uid=carol,$SLAPD_PEOPLE" uid=carol
check "moved out of the base: on hold" cs_wait_for 30 status_is on-hold carol@example.test 2
: > "$T/carol.dates"
for s in $C_OLD; do
	check "... $s on the CRL as certificateHold" cs_wait_for 30 crl_says "$s" "Certificate Hold"
	echo "$s $(crl_date "$s")" >> "$T/carol.dates"
done
printf 'dn: uid=carol,ou=former,%s\nchangetype: modify\nreplace: mail\nmail: carol.new@example.test\n' \
    "$SLAPD_BASE" | ldap_admin_modify >/dev/null
LDAPNOINIT=1 ldapmodrdn -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" \
    -s "$SLAPD_PEOPLE" "uid=carol,ou=former,$SLAPD_BASE" uid=carol
check "back with a new address: new certificates" \
    cs_wait_for 30 status_is active carol.new@example.test 2
for s in $C_OLD; do
	check "held $s revoked as affiliationChanged" cs_wait_for 30 crl_says "$s" "Affiliation Changed"
	check "... dated when it was put on hold" \
	    test "$s $(crl_date "$s")" = "$(grep "^$s " "$T/carol.dates")"
done
check "no certificate of carol is on hold" status_is on-hold carol@example.test 0

echo "# bob is deleted, and stays away longer than hold_days"
B=$(serials_of bob@example.test)
B_ENC=$(cs_serial encryption bob@example.test)
LDAPNOINIT=1 ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" \
    "uid=bob,$SLAPD_PEOPLE"
check "on hold" cs_wait_for 30 status_is on-hold bob@example.test 2
check "... on the CRL as certificateHold" cs_wait_for 30 crl_says "$B_ENC" "Certificate Hold"
B_HELD_DATE=$(crl_date "$B_ENC")
check "his key is still in the keystore while on hold" test -f "$T/keystore/encryption-$B_ENC.p12"
cs_agent_stop
CERTSYNC_HOLD_SECONDS=2 cs_agent_start
for s in $B; do
	check "$s revoked for good: cessationOfOperation" \
	    cs_wait_for 30 crl_says "$s" "Cessation Of Operation"
done
check "... still dated when it was put on hold" test "$(crl_date "$B_ENC")" = "$B_HELD_DATE"
check "certsyncctl list: revoked" status_is revoked bob@example.test 2
check "his encryption key is in the archive, mode 600" \
    test "$(stat -c %a "$T/archive/encryption-$B_ENC.p12")" = 600
check "... opening with the archive password" openssl pkcs12 -in \
    "$T/archive/encryption-$B_ENC.p12" -passin "file:$T/archive.pass" -nodes -noout
check "... and gone from the keystore" test ! -e "$T/keystore/encryption-$B_ENC.p12"
check "alice's certificates, back, stay active" status_is active alice@example.test 2
check "dave was never touched" test "$(serials_of dave@example.test)" = "$DAVE"
check "dave's are active" status_is active dave@example.test 2
cs_agent_stop
cs_done
