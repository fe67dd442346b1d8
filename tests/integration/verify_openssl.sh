#!/bin/sh
# verify_openssl.sh - the OpenSSL CLI accepts what certsyncctl issues.
#
# Proves, for key types rsa:2048, ec:P-256 and ec:P-384 in separate mode:
#  - the signing certificate verifies against the CA for purpose smimesign,
#    the encryption certificate for smimeencrypt (RSA) or, since OpenSSL's
#    smimeencrypt purpose insists on keyEncipherment, which an ECDH key must
#    not have, for the chain alone (EC);
#  - the profile: Key Usage digitalSignature (signing), keyEncipherment (RSA
#    encryption) or keyAgreement and not keyEncipherment (EC encryption);
#    basicConstraints CA:FALSE critical; EKU emailProtection; the SAN holds the
#    primary address and every alias with the local part kept and the domain
#    lower-cased; the serial is a positive 20-octet INTEGER; the key is of
#    the configured type;
#  - the keystore PKCS#12 opens with the archive password and holds the key
#    of the certificate certsyncctl shows: a CMS message encrypted to the
#    encryption certificate decrypts, a CMS signature made with the signing
#    key verifies against the CA;
# then, with [certificates] mode = dual (rsa:2048 and ec:P-256), that one
# certificate is issued and does both jobs; and with a CA made by
# init-ca --days 30, that a 365-day certificate's notAfter is capped at the
# CA's notAfter.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need openssl date

# ext_says CERT EXT REGEX: openssl's text of extension EXT, on one line,
# matches REGEX (the text is printed so a failure shows it).
ext_says() {
	txt=$(openssl x509 -in "$1" -noout -ext "$2" | tr -s ' \n' '  ')
	echo "$txt"
	printf '%s\n' "$txt" | grep -Eq -- "$3"
}

ext_lacks() {
	txt=$(openssl x509 -in "$1" -noout -ext "$2" | tr -s ' \n' '  ')
	echo "$txt"
	! printf '%s\n' "$txt" | grep -Eq -- "$3"
}

# serial_ok CERT SERIAL: the DER serial is a 20-octet INTEGER, positive (no
# leading 00 needed), and it is the SERIAL certsyncctl reports.
serial_ok() {
	line=$(openssl asn1parse -in "$1" | awk '/d=2 .*prim: INTEGER/ { print; exit }')
	echo "$line"
	printf '%s\n' "$line" | grep -Eq 'l= *20 prim: INTEGER +:[0-7][0-9A-F]{39}$' &&
	    [ "${line##*:}" = "$2" ]
}

# The fingerprint of the certificate in PKCS#12 file $1 equals that of $2.
p12_holds() {
	a=$(openssl pkcs12 -in "$1" -passin "file:$T/archive.pass" -nokeys -clcerts |
	    openssl x509 -noout -fingerprint -sha256)
	b=$(openssl x509 -in "$2" -noout -fingerprint -sha256)
	echo "p12: $a"; echo "cert: $b"
	[ -n "$a" ] && [ "$a" = "$b" ]
}

p12_key() {
	openssl pkcs12 -in "$1" -passin "file:$T/archive.pass" -nodes -nocerts -out "$2"
}

enddate_epoch() {
	date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s
}

# Encrypt to $1 with CMS, decrypt with key $2: the plaintext comes back.
cms_roundtrip() {
	printf 'Subject: test\n\nfor %s only\n' "$1" > "$T/msg.txt"
	openssl cms -encrypt -aes256 -binary -in "$T/msg.txt" -out "$T/msg.p7m" "$1" &&
	openssl cms -decrypt -binary -in "$T/msg.p7m" -recip "$1" -inkey "$2" \
	    -out "$T/msg.dec" &&
	cmp "$T/msg.txt" "$T/msg.dec"
}

# Sign with cert $1 and key $2, verify against the CA: the content comes back.
cms_signverify() {
	printf 'signed by %s\n' "$1" > "$T/sig.txt"
	openssl cms -sign -binary -in "$T/sig.txt" -signer "$1" -inkey "$2" \
	    -out "$T/sig.msg" &&
	openssl cms -verify -binary -CAfile "$T/ca/ca.crt" -in "$T/sig.msg" \
	    -out "$T/sig.out" &&
	cmp "$T/sig.txt" "$T/sig.out"
}

# The key-type line of `openssl x509 -text` for CS_KEY_TYPE.
key_regex() {
	case $1 in
	rsa:*) echo "Public-Key: \(${1#rsa:} bit\)" ;;
	ec:*) echo "NIST CURVE: ${1#ec:}" ;;
	esac
}

cert_has_key() {
	openssl x509 -in "$1" -noout -text | grep -E -- "$2"
}

# ---- separate mode, one run per key type ---------------------------------
separate_body() {
	kt=$CS_KEY_TYPE
	check "[$kt] issue with aliases, mixed-case domains" \
	    ctl issue Alice@EXAMPLE.test --alias Al.Ias@Example.TEST \
	    --alias second@Sub.Example.test --name "Alice Example" --user alice
	ss=$(cs_serial signing Alice@example.test)
	es=$(cs_serial encryption Alice@example.test)
	check "[$kt] list --active has a signing and an encryption certificate" \
	    test -n "$ss" -a -n "$es" -a "$ss" != "$es"
	cs_cert_pem signing Alice@example.test > "$T/sig.pem"
	cs_cert_pem encryption Alice@example.test > "$T/enc.pem"

	check "[$kt] signing cert verifies for smimesign" \
	    openssl verify -CAfile "$T/ca/ca.crt" -purpose smimesign "$T/sig.pem"
	case $kt in
	rsa:*)
		check "[$kt] encryption cert verifies for smimeencrypt" \
		    openssl verify -CAfile "$T/ca/ca.crt" -purpose smimeencrypt "$T/enc.pem"
		check "[$kt] encryption cert Key Usage is keyEncipherment" \
		    ext_says "$T/enc.pem" keyUsage 'Key Usage: critical Key Encipherment'
		;;
	ec:*)
		check "[$kt] encryption cert verifies against the CA" \
		    openssl verify -CAfile "$T/ca/ca.crt" "$T/enc.pem"
		check "[$kt] encryption cert Key Usage is keyAgreement" \
		    ext_says "$T/enc.pem" keyUsage 'Key Usage: critical Key Agreement'
		check "[$kt] EC encryption cert has no keyEncipherment" \
		    ext_lacks "$T/enc.pem" keyUsage 'Key Encipherment'
		;;
	esac
	check "[$kt] signing cert Key Usage is digitalSignature" \
	    ext_says "$T/sig.pem" keyUsage 'Key Usage: critical Digital Signature'
	for c in sig enc; do
		check "[$kt] $c: key is $kt" cert_has_key "$T/$c.pem" "$(key_regex "$kt")"
		check "[$kt] $c: basicConstraints critical CA:FALSE" \
		    ext_says "$T/$c.pem" basicConstraints 'Basic Constraints: critical CA:FALSE'
		check "[$kt] $c: EKU emailProtection" \
		    ext_says "$T/$c.pem" extendedKeyUsage 'Extended Key Usage: E-mail Protection'
		for a in Alice@example.test Al.Ias@example.test second@sub.example.test; do
			check "[$kt] $c: SAN has email:$a" \
			    ext_says "$T/$c.pem" subjectAltName "email:$a(,| |$)"
		done
		check "[$kt] $c: SAN has no upper-case domain" \
		    ext_lacks "$T/$c.pem" subjectAltName '@[^,]*[A-Z]'
	done
	check "[$kt] signing serial is 20 octets, positive, as listed" \
	    serial_ok "$T/sig.pem" "$ss"
	check "[$kt] encryption serial is 20 octets, positive, as listed" \
	    serial_ok "$T/enc.pem" "$es"

	check "[$kt] keystore signing PKCS#12 holds the signing cert" \
	    p12_holds "$T/keystore/signing-$ss.p12" "$T/sig.pem"
	check "[$kt] keystore encryption PKCS#12 holds the encryption cert" \
	    p12_holds "$T/keystore/encryption-$es.p12" "$T/enc.pem"
	check "[$kt] signing key out of the keystore PKCS#12" \
	    p12_key "$T/keystore/signing-$ss.p12" "$T/sig.key"
	check "[$kt] encryption key out of the keystore PKCS#12" \
	    p12_key "$T/keystore/encryption-$es.p12" "$T/enc.key"
	check "[$kt] CMS encrypt to the encryption cert, decrypt with its key" \
	    cms_roundtrip "$T/enc.pem" "$T/enc.key"
	check "[$kt] CMS sign with the signing key, verify against the CA" \
	    cms_signverify "$T/sig.pem" "$T/sig.key"
}

# ---- dual mode ------------------------------------------------------------
dual_body() {
	kt=$CS_KEY_TYPE
	check "[dual $kt] issue" ctl issue dana@example.test --alias d@example.test
	n=$(ctl list --active | grep -c 'dana@example\.test' || true)
	check "[dual $kt] exactly one active certificate (has $n)" test "$n" -eq 1
	ds=$(cs_serial dual dana@example.test)
	check "[dual $kt] it is of kind dual" test -n "$ds"
	check "[dual $kt] the keystore holds just dual-$ds.p12" \
	    test "$(ls "$T/keystore")" = "dual-$ds.p12"
	cs_cert_pem dual dana@example.test > "$T/dual.pem"
	check "[dual $kt] verifies for smimesign" \
	    openssl verify -CAfile "$T/ca/ca.crt" -purpose smimesign "$T/dual.pem"
	case $kt in
	rsa:*)
		check "[dual $kt] verifies for smimeencrypt" \
		    openssl verify -CAfile "$T/ca/ca.crt" -purpose smimeencrypt "$T/dual.pem"
		check "[dual $kt] Key Usage digitalSignature + keyEncipherment" \
		    ext_says "$T/dual.pem" keyUsage 'critical Digital Signature, Key Encipherment'
		;;
	ec:*)
		check "[dual $kt] Key Usage digitalSignature + keyAgreement" \
		    ext_says "$T/dual.pem" keyUsage 'critical Digital Signature, Key Agreement'
		;;
	esac
	check "[dual $kt] key is $kt" cert_has_key "$T/dual.pem" "$(key_regex "$kt")"
	check "[dual $kt] EKU emailProtection" \
	    ext_says "$T/dual.pem" extendedKeyUsage 'Extended Key Usage: E-mail Protection'
	check "[dual $kt] serial is 20 octets" serial_ok "$T/dual.pem" "$ds"
	check "[dual $kt] PKCS#12 holds the cert" \
	    p12_holds "$T/keystore/dual-$ds.p12" "$T/dual.pem"
	check "[dual $kt] key out of the PKCS#12" \
	    p12_key "$T/keystore/dual-$ds.p12" "$T/dual.key"
	check "[dual $kt] CMS encrypt/decrypt with the one key" \
	    cms_roundtrip "$T/dual.pem" "$T/dual.key"
	check "[dual $kt] CMS sign/verify with the one key" \
	    cms_signverify "$T/dual.pem" "$T/dual.key"
}

# Each run gets its own scratch directory; cs_setup's trap removes the last.
next_setup() {
	[ -z "${T:-}" ] || [ -n "${CS_KEEP:-}" ] || rm -rf "$T"
	cs_setup
}

CS_MODE=separate
for CS_KEY_TYPE in rsa:2048 ec:P-256 ec:P-384; do
	next_setup
	separate_body
done
CS_MODE=dual
for CS_KEY_TYPE in rsa:2048 ec:P-256; do
	next_setup
	dual_body
done

# ---- validity capped at the CA's ------------------------------------------
CS_MODE=separate CS_KEY_TYPE=rsa:2048
next_setup
mkdir "$T/short"
cp "$T/archive.pass" "$T/short/archive.pass"
cp "$CONF" "$T/short/certsync.conf"
SHORT="$T/short/certsync.conf"
check "CA with --days 30" "$CTL" -c "$SHORT" init-ca --days 30 --subject "CN=Short CA"
check "issue a 365-day certificate under it" "$CTL" -c "$SHORT" issue eve@example.test
"$CTL" -c "$SHORT" show "$("$CTL" -c "$SHORT" list --active |
    awk '$2 == "encryption" { print $3; exit }')" --pem |
    sed -n '/BEGIN CERT/,/END CERT/p' > "$T/short.pem"
ca_end=$(enddate_epoch "$T/short/ca/ca.crt")
cert_end=$(enddate_epoch "$T/short.pem")
now=$(date -u +%s)
check "notAfter $cert_end <= CA notAfter $ca_end" test "$cert_end" -le "$ca_end"
check "notAfter is the CA's (capped, not shortened further)" \
    test "$cert_end" -ge $((ca_end - 300))
check "CA really is short-lived (< 31 days)" test "$ca_end" -lt $((now + 31 * 86400))
check "capped certificate verifies" \
    openssl verify -CAfile "$T/short/ca/ca.crt" -purpose smimeencrypt "$T/short.pem"
# And under the 10-year CA a certificate gets its full 365 days.
check "issue under the long-lived CA" ctl issue frank@example.test
cs_cert_pem encryption frank@example.test > "$T/frank.pem"
end=$(enddate_epoch "$T/frank.pem")
check "long-lived CA: notAfter is about now + 365 days" \
    test "$end" -ge $((now + 365 * 86400 - 300)) -a "$end" -le $((now + 365 * 86400 + 300))
cs_done
