#!/bin/sh
# verify_gnutls.sh - GnuTLS's certtool and GnuPG's gpgsm accept what
# certsyncctl issues.
#
# Proves, with certtool, for rsa:2048 and ec:P-256:
#  - the encryption and signing chains verify against the CA under the
#    "medium" profile, for purpose emailProtection and for the primary
#    address and the alias (and not for an address the certificate lacks);
#  - each keystore PKCS#12 opens with the archive password (and not with a
#    wrong one) and holds a certificate and an encrypted PKCS#8 key;
#  - after "revoke --reason keyCompromise" the DER CRL lists the serial, the
#    PEM CRL verifies against the CA, and with it the revoked certificate no
#    longer verifies while the other one still does.
# Proves, with gpgsm in a throwaway GNUPGHOME, non-interactively (loopback
# pinentry, no dirmngr, no CRL or network look-ups): the CA and the user's
# two PKCS#12 files import; a message encrypted to the user's address
# decrypts, and a message signed with the user's key verifies.  gpgsm runs
# with the legacy PKCS#12 profile and RSA keys only: GnuPG 2.2 (Debian 12)
# cannot parse PBES2 with an HMAC-SHA256 PRF (the aes256 profile), and it
# crashes importing a PKCS#12 that holds an EC key.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need certtool gpgsm gpgconf openssl

# verified CA FILE [certtool options]: certtool --verify says the chain in
# FILE is trusted.
verified() {
	ca=$1 file=$2; shift 2
	out=$(certtool --verify --verify-profile medium --load-ca-certificate "$ca" \
	    --infile "$file" "$@" 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^Chain verification output: Verified'
}

# p12_opens FILE PASSWORD: certtool reads the bags, including the key.
p12_opens() {
	out=$(certtool --p12-info --inder --password "$2" --infile "$1" 2>&1) ||
	    { echo "$out"; return 1; }
	echo "$out"
	printf '%s\n' "$out" | grep -q 'Type: Certificate' &&
	printf '%s\n' "$out" | grep -q 'PKCS #8 Encrypted key'
}

# says REGEX COMMAND...: the command succeeds and its output matches REGEX.
says() {
	re=$1; shift
	out=$("$@" 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	printf '%s\n' "$out" | grep -Eiq -- "$re"
}

next_setup() {
	[ -z "${T:-}" ] || [ -n "${CS_KEEP:-}" ] || rm -rf "$T"
	cs_setup
}

# ---- certtool -----------------------------------------------------------------
for CS_KEY_TYPE in rsa:2048 ec:P-256; do
	next_setup
	kt=$CS_KEY_TYPE
	check "[$kt] issue" ctl issue gina@example.test --alias g@example.test
	es=$(cs_serial encryption gina@example.test)
	ss=$(cs_serial signing gina@example.test)
	cs_cert_pem encryption gina@example.test > "$T/enc.pem"
	cs_cert_pem signing gina@example.test > "$T/sig.pem"
	cat "$T/enc.pem" "$T/ca/ca.crt" > "$T/enc-chain.pem"
	cat "$T/sig.pem" "$T/ca/ca.crt" > "$T/sig-chain.pem"
	for c in enc sig; do
		check "[$kt] $c chain verifies" verified "$T/ca/ca.crt" "$T/$c-chain.pem"
		check "[$kt] $c: emailProtection, gina@example.test" \
		    verified "$T/ca/ca.crt" "$T/$c.pem" \
		    --verify-purpose 1.3.6.1.5.5.7.3.4 --verify-email gina@example.test
		check "[$kt] $c: the alias g@example.test" \
		    verified "$T/ca/ca.crt" "$T/$c.pem" --verify-email g@example.test
		check_fails "[$kt] $c: not for someone@example.test" \
		    verified "$T/ca/ca.crt" "$T/$c.pem" --verify-email someone@example.test
	done
	pass=$(head -n 1 "$T/archive.pass")
	check "[$kt] certtool opens the encryption PKCS#12" \
	    p12_opens "$T/keystore/encryption-$es.p12" "$pass"
	check "[$kt] certtool opens the signing PKCS#12" \
	    p12_opens "$T/keystore/signing-$ss.p12" "$pass"
	check "[$kt] certtool: the PKCS#12 is AES-256-CBC" \
	    says 'Cipher: AES-256-CBC' certtool --p12-info --inder --password "$pass" \
	    --infile "$T/keystore/signing-$ss.p12"
	last_says 'MAC: SHA256' "[$kt] certtool: ... with an SHA256 MAC"
	check_fails "[$kt] a wrong password does not open it" \
	    p12_opens "$T/keystore/signing-$ss.p12" "not-$pass"

	check "[$kt] revoke the encryption certificate" \
	    ctl revoke "$es" --reason keyCompromise
	check "[$kt] the DER CRL lists $es" \
	    says "Serial Number \(hex\): $es" certtool --crl-info --inder --infile "$T/crl/ca.crl"
	check "[$kt] the PEM CRL verifies against the CA" \
	    says '^Verification output: Verified' certtool --verify-crl \
	    --load-ca-certificate "$T/ca/ca.crt" --infile "$T/crl/ca.crl.pem"
	check_fails "[$kt] with the CRL, the revoked certificate does not verify" \
	    verified "$T/ca/ca.crt" "$T/enc.pem" --load-crl "$T/crl/ca.crl.pem"
	last_says 'revoked' "[$kt] certtool says it is revoked"
	check "[$kt] with the CRL, the signing certificate still verifies" \
	    verified "$T/ca/ca.crt" "$T/sig.pem" --load-crl "$T/crl/ca.crl.pem"
done

# ---- gpgsm ------------------------------------------------------------------
CS_KEY_TYPE=rsa:2048 CS_P12_PROFILE=legacy
next_setup
GNUPGHOME="$T/gnupg"; export GNUPGHOME
# The gpg-agent that gpgsm starts dies with the test, whatever happens.
cs_on_exit 'gpgconf --kill all >/dev/null 2>&1'

gsm() { gpgsm --batch --no-tty --pinentry-mode loopback "$@" </dev/null; }
gsm_pw() { gsm --passphrase-fd 3 "$@" 3<"$T/archive.pass"; }
fresh_gnupg() {
	gpgconf --kill all >/dev/null 2>&1 || :
	rm -rf "$GNUPGHOME"
	mkdir -m 700 "$GNUPGHOME"
	echo allow-loopback-pinentry > "$GNUPGHOME/gpg-agent.conf"
	printf 'disable-dirmngr\ndisable-crl-checks\ndisable-policy-checks\n' \
	    > "$GNUPGHOME/gpgsm.conf"
	gsm --import "$T/ca/ca.crt" >/dev/null 2>&1
	fpr=$(openssl x509 -in "$T/ca/ca.crt" -noout -fingerprint -sha1 | cut -d= -f2)
	echo "$fpr S" > "$GNUPGHOME/trustlist.txt"
}
imports() { gsm_pw --import "$1" > "$T/gpgsm.out" 2>&1; grep -q 'secret keys imported: 1' "$T/gpgsm.out"; }

# gpgsm 2.2's own PKCS#12 parser (minip12) rejects some files that
# OpenSSL, NSS and certtool all read, depending on the random key and salt:
# the key bag ("data error at shrouded_key_bag.decrypted-text") or the
# encrypted certificate bag ("decryption failed; trying charset ...",
# "error at bag.encryptedData", though the passphrase is right).  Only those
# failures earn a fresh key and file; any other fails at once.
check "issue helen@example.test (legacy profile)" ctl issue helen@example.test --user helen
gpg_ok=0 attempt=1
while [ $attempt -le 4 ]; do
	es=$(cs_serial encryption helen@example.test)
	ss=$(cs_serial signing helen@example.test)
	fresh_gnupg
	if imports "$T/keystore/encryption-$es.p12" && imports "$T/keystore/signing-$ss.p12"; then
		gpg_ok=1
		break
	fi
	grep -Eq 'shrouded_key_bag|error at "bag\.encryptedData"' "$T/gpgsm.out" || break
	echo "# note: gpgsm's PKCS#12 parser refused key $attempt (its known limit); a new key"
	ctl issue helen@example.test --user helen --name "Helen $attempt" >/dev/null
	attempt=$((attempt + 1))
done
check "gpgsm imports the encryption and signing PKCS#12 files" test "$gpg_ok" -eq 1
[ "$gpg_ok" -eq 1 ] || sed 's/^/       /' "$T/gpgsm.out"
check "gpgsm lists both secret keys" \
    says "S/N: $ss" gsm --list-secret-keys
last_says "S/N: $es" "... including the encryption key"
printf 'for helen only\n' > "$T/msg.txt"
check "gpgsm encrypts to helen@example.test" \
    gsm -r helen@example.test -o "$T/msg.p7m" --encrypt "$T/msg.txt"
check "gpgsm decrypts it" gsm_pw -o "$T/msg.out" --decrypt "$T/msg.p7m"
check "... to the original message" cmp "$T/msg.txt" "$T/msg.out"
check "openssl decrypts gpgsm's message with the keystore key too" \
    sh -c 'openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts |
        openssl cms -decrypt -binary -in "$3" -inform DER -inkey /dev/stdin |
        cmp - "$4"' sh "$T/keystore/encryption-$es.p12" "$T/archive.pass" \
        "$T/msg.p7m" "$T/msg.txt"
check "gpgsm signs as helen@example.test" \
    gsm_pw -u helen@example.test -o "$T/msg.sig" --sign "$T/msg.txt"
check "gpgsm verifies the signature" \
    says 'Good signature from' gsm -o "$T/msg.ver" --verify "$T/msg.sig"
check "... with the signed content intact" cmp "$T/msg.txt" "$T/msg.ver"
check "stop the gpg-agent" gpgconf --kill all
cs_done
