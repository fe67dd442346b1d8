# tests/integration/smime_check.sh - a published userSMIMECertificate value
# read by tools that had no part in making it.
#
# Owns: smime_checks, for the agent tests (sourced after lib.sh).
# Never: writes anything but files in $T.
#
# The value must be what Outlook's "Publish to GAL" writes (README,
# "Certificates"): a CMS SignedData signed by the user's signing (or dual)
# key, in strict DER.  The verifiers: the openssl CLI (signature, chain,
# signer), tests/integration/smime_value.py (a DER reader of its own: the
# encoding, the structure, every attribute's value), Debian's
# python3-cryptography (its PKCS#7 reader without a warning; the signature
# over the attributes) and GnuTLS certtool (--p7-info, --p7-verify).

SC_PY=/usr/bin/python3
SC_SCRIPT="$CS_SRCDIR/tests/integration/smime_value.py"
cs_need openssl certtool base64 cmp
"$SC_PY" -c 'import cryptography' 2>/dev/null || {
	echo "FATAL: $SC_PY cannot import cryptography (python3-cryptography)" >&2
	exit 99
}

# The certificate in PEM file A is the one in DER file B.
smime_same_cert() {
	[ "$(grep -c 'BEGIN CERTIFICATE' "$1")" -eq 1 ] &&
	    openssl x509 -in "$1" -outform DER | cmp - "$2"
}

# Another python3 on the PATH (not Debian's) with python3-cryptography, whose
# PKCS#7 reader may be stricter (version 40 and later parse DER in Rust and
# warn on an unsorted SET OF); empty if there is none.
smime_other_python() {
	sc_p=$(command -v python3 2>/dev/null) || return 0
	[ "$(readlink -f "$sc_p")" != "$(readlink -f "$SC_PY")" ] || return 0
	"$sc_p" -c 'import cryptography' 2>/dev/null && echo "$sc_p"
	return 0
}

# The value's signer is the store's active $sc_sig certificate for $sc_addr
# (its DER then in $T/smime-signer.der).  The store records a publication
# just after the directory shows it: this is what to wait for.
smime_signer_active() {
	cs_cert_pem "$sc_sig" "$sc_addr" | openssl x509 -outform DER -out "$T/smime-signer.der" &&
	    openssl cms -verify -noverify -inform DER -in "$T/smime.der" -out /dev/null \
	    -signer "$T/smime-signer0.pem" && smime_same_cert "$T/smime-signer0.pem" \
	    "$T/smime-signer.der"
}

# smime_checks LABEL VALUE_BASE64 ADDRESS: the value published for the user
# whose active certificates name ADDRESS ([certificates] mode $CS_MODE).
smime_checks() {
	sc_label=$1 sc_addr=$3
	printf '%s' "$2" | base64 -d > "$T/smime.der"
	if [ "${CS_MODE:-separate}" = dual ]; then
		sc_sig=dual sc_enc=dual
	else
		sc_sig=signing sc_enc=encryption
	fi
	check "[$sc_label] the value's signer is the store's active $sc_sig certificate" \
	    cs_wait_for 30 smime_signer_active
	cs_cert_pem "$sc_enc" "$sc_addr" | openssl x509 -outform DER -out "$T/smime-enc.der"
	openssl x509 -in "$T/ca/ca.crt" -outform DER -out "$T/smime-ca.der"
	rm -f "$T/smime-signer.pem"
	check "[$sc_label] openssl cms -verify: the value verifies against the CA" \
	    openssl cms -verify -inform DER -in "$T/smime.der" -CAfile "$T/ca/ca.crt" \
	    -purpose smimesign -out "$T/smime.content" -signer "$T/smime-signer.pem"
	check "[$sc_label] ... and its signer, so verified, is that certificate" \
	    smime_same_cert "$T/smime-signer.pem" "$T/smime-signer.der"
	check "[$sc_label] strict DER, Outlook's form, key preference naming the $sc_enc certificate twice" \
	    "$SC_PY" "$SC_SCRIPT" "$T/smime.der" "$T/smime-signer.der" "$T/smime-enc.der" \
	    "$T/smime-ca.der"
	check "[$sc_label] Debian's python3-cryptography reads it without a warning and verifies it" \
	    "$SC_PY" "$SC_SCRIPT" --cryptography "$T/smime.der" "$T/smime-signer.der"
	sc_other=$(smime_other_python)
	if [ -n "$sc_other" ]; then
		check "[$sc_label] $sc_other's python3-cryptography too" \
		    "$sc_other" "$SC_SCRIPT" --cryptography "$T/smime.der" "$T/smime-signer.der"
	fi
	check "[$sc_label] GnuTLS certtool --p7-info reads it" \
	    certtool --p7-info --inder --infile "$T/smime.der"
	check "[$sc_label] GnuTLS certtool --p7-verify verifies it against the CA" \
	    certtool --p7-verify --inder --infile "$T/smime.der" \
	    --load-ca-certificate "$T/ca/ca.crt"
}
