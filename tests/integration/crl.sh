#!/bin/sh
# crl.sh - the CRL certsyncctl writes is one OpenSSL parses, trusts and
# enforces.
#
# Proves that: "crl" on a fresh CA writes CRL number 1 with no entries; a
# reissue under new addresses lists the old serials as Affiliation Changed,
# "revoke --reason keyCompromise" as Key Compromise; the CRL number goes up
# by exactly one on every rewrite ("crl" twice, reissue, revoke); the CRL is
# v2, names the CA as issuer with the CA's key identifier, is signed by the
# CA (openssl crl -CAfile: verify OK), and nextUpdate is 168 h (the default
# [crl] next_update_hours) after lastUpdate; openssl verify -crl_check
# rejects a revoked certificate ("certificate revoked") and accepts a current
# one; revoke of an unknown serial exits 66; revoke of a revoked serial says
# so, exits 0 and keeps the first reason; the PEM CRL is the DER one.  The
# signature and -crl_check parts run under an EC (default) and an RSA CA.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need openssl date cmp

DER() { echo "$T/crl/ca.crl"; }

crl_text() { openssl crl -inform DER -in "$(DER)" -noout -text; }

# The CRL number, in decimal.
crl_number() {
	n=$(openssl crl -inform DER -in "$(DER)" -noout -crlnumber) || return 1
	printf '%d\n' "${n#crlNumber=}"
}

number_is() {
	got=$(crl_number) || return 1
	echo "CRL number $got, wanted $1"
	[ "$got" -eq "$1" ]
}

# crl_reason SERIAL REASON: the entry for SERIAL carries REASON.
crl_reason() {
	crl_text | awk -v s="$1" '/Serial Number:/ { on = ($3 == s) } on' > "$T/crl.entry"
	cat "$T/crl.entry"
	grep -q "Serial Number: $1" "$T/crl.entry" && grep -q "$2" "$T/crl.entry"
}

entries() { crl_text | grep -c 'Serial Number:' || true; }

# crl_verified: openssl checks the CRL's signature with the CA certificate.
crl_verified() {
	out=$(openssl crl -inform DER -in "$(DER)" -CAfile "$T/ca/ca.crt" -noout 2>&1) ||
	    { echo "$out"; return 1; }
	echo "$out"
	printf '%s\n' "$out" | grep -qx 'verify OK'
}

# verify_with_crl CERT: openssl verify with CRL checking.
verify_with_crl() {
	openssl verify -crl_check -CRLfile "$T/crl/ca.crl.pem" -CAfile "$T/ca/ca.crt" "$1"
}

pem_is_der() {
	openssl crl -in "$T/crl/ca.crl.pem" -outform DER -out "$T/from-pem.der" &&
	cmp "$T/from-pem.der" "$(DER)" &&
	openssl crl -inform DER -in "$(DER)" -outform PEM -out "$T/from-der.pem" &&
	cmp "$T/from-der.pem" "$T/crl/ca.crl.pem"
}

issuer_is_ca() {
	a=$(openssl crl -inform DER -in "$(DER)" -noout -issuer | sed 's/^issuer=//')
	b=$(openssl x509 -in "$T/ca/ca.crt" -noout -subject | sed 's/^subject=//')
	echo "CRL issuer: $a"; echo "CA subject: $b"
	[ -n "$a" ] && [ "$a" = "$b" ]
}

aki_is_ca_ski() {
	aki=$(crl_text | grep -A1 'Authority Key Identifier' | tail -n 1 | tr -d ' ')
	ski=$(openssl x509 -in "$T/ca/ca.crt" -noout -ext subjectKeyIdentifier |
	    tail -n 1 | tr -d ' ')
	echo "CRL AKI: $aki"; echo "CA SKI: $ski"
	[ -n "$aki" ] && [ "${aki#keyid:}" = "$ski" ]
}

# nextUpdate - lastUpdate = 168 h
next_update_168h() {
	l=$(openssl crl -inform DER -in "$(DER)" -noout -lastupdate | cut -d= -f2)
	n=$(openssl crl -inform DER -in "$(DER)" -noout -nextupdate | cut -d= -f2)
	d=$(( $(date -u -d "$n" +%s) - $(date -u -d "$l" +%s) ))
	echo "lastUpdate $l, nextUpdate $n: $d s"
	[ "$d" -eq $((168 * 3600)) ]
}

# ---- the whole story, EC CA ------------------------------------------------
cs_setup
check_exit 0 "crl on a fresh CA" ctl crl
check "DER CRL parses" crl_text
last_says 'No Revoked Certificates' "it has no entries"
check "it is CRL number 1" number_is 1
check "it is a v2 CRL" sh -c 'openssl crl -inform DER -in "$1" -noout -text |
    grep -q "Version 2"' sh "$(DER)"

check "issue bob@example.test --user bob" ctl issue bob@example.test --user bob
e1=$(cs_serial encryption bob@example.test)
s1=$(cs_serial signing bob@example.test)
cs_cert_pem encryption bob@example.test > "$T/old-enc.pem"
cs_cert_pem signing bob@example.test > "$T/old-sig.pem"
check "before any revocation, -crl_check accepts bob's certificate" \
    verify_with_crl "$T/old-enc.pem"

check "reissue as robert@example.test" ctl issue robert@example.test --user bob
e2=$(cs_serial encryption robert@example.test)
s2=$(cs_serial signing robert@example.test)
cs_cert_pem encryption robert@example.test > "$T/new-enc.pem"
cs_cert_pem signing robert@example.test > "$T/new-sig.pem"
check "CRL number went up to 2" number_is 2
check "CRL lists the old encryption serial as Affiliation Changed" \
    crl_reason "$e1" 'Affiliation Changed'
check "CRL lists the old signing serial as Affiliation Changed" \
    crl_reason "$s1" 'Affiliation Changed'
check "2 entries" test "$(entries)" -eq 2
check_fails "-crl_check rejects the old encryption certificate" \
    verify_with_crl "$T/old-enc.pem"
last_says 'certificate revoked' "... saying 'certificate revoked'"
check_fails "-crl_check rejects the old signing certificate" \
    verify_with_crl "$T/old-sig.pem"
last_says 'certificate revoked' "... saying 'certificate revoked'"
check "-crl_check accepts the new encryption certificate" verify_with_crl "$T/new-enc.pem"
check "-crl_check accepts the new signing certificate" verify_with_crl "$T/new-sig.pem"

check_exit 0 "revoke $e2 --reason keyCompromise" ctl revoke "$e2" --reason keyCompromise
check "CRL number went up to 3" number_is 3
check "CRL lists $e2 as Key Compromise" crl_reason "$e2" 'Key Compromise'
check "CRL still lists $e1 as Affiliation Changed" crl_reason "$e1" 'Affiliation Changed'
check_fails "-crl_check now rejects the new encryption certificate" \
    verify_with_crl "$T/new-enc.pem"
last_says 'certificate revoked' "... saying 'certificate revoked'"
check "-crl_check still accepts the new signing certificate" \
    verify_with_crl "$T/new-sig.pem"

check_exit 0 "crl" ctl crl
check "CRL number 4" number_is 4
check_exit 0 "crl again" ctl crl
check "CRL number 5" number_is 5
check "the rewrites kept all 3 entries" test "$(entries)" -eq 3

check_exit 0 "revoke an already-revoked serial" ctl revoke "$e2" --reason superseded
last_says 'already revoked' "it says it was already revoked"
check "the first reason stands in the CRL" crl_reason "$e2" 'Key Compromise'
check_exit 0 "show $e2" ctl show "$e2"
last_says '^Revoked: .*keyCompromise' "... and in show"
check_exit 66 "revoke an unknown serial" ctl revoke 00C0FFEE --reason keyCompromise
last_says '00C0FFEE' "the message names the serial"
check "the CRL still parses, number >= 5" sh -c \
    'n=$(openssl crl -inform DER -in "$1" -noout -crlnumber) && echo "$n" &&
     [ $(( ${n#crlNumber=} )) -ge 5 ]' sh "$(DER)"

check "CRL signature verifies against the CA (EC)" crl_verified
check "CRL issuer is the CA's subject" issuer_is_ca
check "CRL Authority Key Identifier is the CA's key id" aki_is_ca_ski
check "nextUpdate is 168 h after lastUpdate" next_update_168h
check "the PEM CRL is the DER CRL" pem_is_der

# ---- an RSA CA ----------------------------------------------------------------
[ -n "${CS_KEEP:-}" ] || rm -rf "$T"
CS_CA_KEY_TYPE=rsa:2048
cs_setup
check "[RSA CA] issue carl@example.test" ctl issue carl@example.test
e=$(cs_serial encryption carl@example.test)
cs_cert_pem encryption carl@example.test > "$T/enc.pem"
cs_cert_pem signing carl@example.test > "$T/sig.pem"
check_exit 0 "[RSA CA] revoke --reason keyCompromise" ctl revoke "$e" --reason keyCompromise
check "[RSA CA] CRL number 1" number_is 1
check "[RSA CA] CRL lists it as Key Compromise" crl_reason "$e" 'Key Compromise'
check "[RSA CA] CRL signature verifies against the CA" crl_verified
check "[RSA CA] CRL is signed with sha256WithRSAEncryption" sh -c \
    'openssl crl -inform DER -in "$1" -noout -text | grep -q sha256WithRSAEncryption' \
    sh "$(DER)"
check_fails "[RSA CA] -crl_check rejects the revoked certificate" verify_with_crl "$T/enc.pem"
last_says 'certificate revoked' "[RSA CA] ... saying 'certificate revoked'"
check "[RSA CA] -crl_check accepts the other one" verify_with_crl "$T/sig.pem"
check "[RSA CA] the PEM CRL is the DER CRL" pem_is_der
cs_done
