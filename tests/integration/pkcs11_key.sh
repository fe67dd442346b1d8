#!/bin/sh
# pkcs11_key.sh - a CA key that never leaves a PKCS#11 token (SoftHSM2)
# opens, proves that it belongs to its certificate, and signs certificates
# and CRLs that OpenSSL verifies; every way of naming it wrongly is refused
# with one line that never shows the PIN.
#
# Proves, with src/ca/pkcs11.c driven by tests/unit/pkcs11_probe against a
# token made by tests/integration/softhsm.sh (softhsm2-util, pkcs11-tool, and
# the openssl CLI through the pkcs11 engine for the CA certificates): for an
# EC P-256 and an RSA-2048 CA key, the key opens by URI with the PIN from a
# file, through the module named and through p11-kit-proxy (the default);
# the test signature matches it to its certificate and refuses another key
# of the same type and a certificate of another type; a certificate signed
# with it passes openssl verify, a CRL signed with it passes openssl crl's
# signature check and makes openssl verify -crl_check reject the revoked
# certificate; a child forked by a parent that never loaded the engine or
# the module opens the key and signs.  Refused, with one line and no PIN in
# it: a second open in the same process (libp11 stays logged in until the
# process exits, so the PIN would go unchecked), a wrong PIN, a PIN file of
# mode 0644, no PIN file, a URI with the PIN in it, a URI naming no key, an
# unknown object, an unknown token, a missing engine, a missing module.
# Also prints the signing rate of each key.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/softhsm.sh"
cs_need openssl wc grep
cs_setup
softhsm_setup

PROBE=$CS_BUILDDIR/tests/unit/pkcs11_probe
# Under ASan (scripts/check) LeakSanitizer needs whole stacks to match the
# libp11 entries in tests/lsan.supp: libcrypto has no frame pointers, so
# the fast unwinder stops at CRYPTO_zalloc.  No effect on other builds.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export ASAN_OPTIONS
M=$SOFTHSM_MODULE
PIN=$SOFTHSM_PIN_FILE

softhsm_keygen ca-ec EC:prime256v1
softhsm_keygen ca-rsa rsa:2048
softhsm_keygen other-ec EC:prime256v1
softhsm_ca_cert ca-ec "$T/ca-ec.crt" "/CN=certsync Token CA EC/O=Example Test"
softhsm_ca_cert ca-rsa "$T/ca-rsa.crt" "/CN=certsync Token CA RSA/O=Example Test"

probe() { "$PROBE" -m "$M" -p "$PIN" "$@"; }

# one_line "what": the previous check printed exactly one line.
one_line() {
	CS_CHECKS=$((CS_CHECKS + 1))
	n=$(wc -l < "$T/last.out")
	if [ "$n" -eq 1 ]; then
		echo "ok   - $1"
	else
		echo "FAIL - $1: $n lines"; sed 's/^/       /' "$T/last.out"
		CS_FAILS=$((CS_FAILS + 1))
	fi
}

# no_pin "what" PIN...: none of the PINs is in the previous check's output.
no_pin() {
	what=$1; shift
	CS_CHECKS=$((CS_CHECKS + 1))
	for p in "$@"; do
		if grep -qF -- "$p" "$T/last.out"; then
			echo "FAIL - $what: a PIN is in the output"
			CS_FAILS=$((CS_FAILS + 1))
			return
		fi
	done
	echo "ok   - $what"
}

# --- the CA certificates the openssl CLI made through the engine ----------
for k in ec rsa; do
	check "the CA certificate made with token key ca-$k verifies with its own key" \
	    openssl verify -CAfile "$T/ca-$k.crt" "$T/ca-$k.crt"
done

# --- open, match, sign ----------------------------------------------------
sig_alg() { openssl x509 -in "$1" -noout -text | grep -m1 'Signature Algorithm'; }
crl_signed() {
	out=$(openssl crl -in "$1" -CAfile "$2" -noout 2>&1); echo "$out"
	[ "$out" = "verify OK" ]
}
revoked() {
	if openssl verify -crl_check -CRLfile "$1" -CAfile "$2" "$3"; then return 1; fi
}
for k in ec rsa; do
	mkdir "$T/out-$k"
	check "$k: the token key opens by URI and signs a certificate and a CRL" \
	    probe sign "$(softhsm_uri "ca-$k")" "$T/ca-$k.crt" "$T/out-$k"
	check "$k: openssl verify accepts the certificate the token key signed" \
	    openssl verify -CAfile "$T/ca-$k.crt" "$T/out-$k/leaf.pem"
	check "$k: the certificate's signature is SHA-256 with the CA's algorithm" \
	    sig_alg "$T/out-$k/leaf.pem"
	if [ "$k" = ec ]; then want=ecdsa-with-SHA256; else want=sha256WithRSAEncryption; fi
	last_says "$want" "$k: it is $want"
	check "$k: openssl crl checks the CRL's signature with the CA certificate" \
	    crl_signed "$T/out-$k/crl.pem" "$T/ca-$k.crt"
	check "$k: openssl verify -crl_check rejects the certificate the CRL revokes" \
	    revoked "$T/out-$k/crl.pem" "$T/ca-$k.crt" "$T/out-$k/leaf.pem"
	last_says "certificate revoked" "$k: because it is revoked"
done

check "the key opens through p11-kit-proxy when no module is named" \
    "$PROBE" -p "$PIN" match "$(softhsm_uri ca-ec)" "$T/ca-ec.crt"
(umask 077; printf '%s\n' "$SOFTHSM_USER_PIN" > "$T/pin-nl")
check "a PIN file with a line ending works (the first line is the PIN)" \
    "$PROBE" -m "$M" -p "$T/pin-nl" match "$(softhsm_uri ca-ec)" "$T/ca-ec.crt"

check_exit 1 "another EC key of the same token does not match the EC CA certificate" \
    probe match "$(softhsm_uri other-ec)" "$T/ca-ec.crt"
last_says "does not belong to .*ca-ec.crt: a test signature" "the test signature tells"
one_line "in one line"
check_exit 1 "the EC key does not match the RSA CA certificate" \
    probe match "$(softhsm_uri ca-ec)" "$T/ca-rsa.crt"
last_says "is an EC key, but .*ca-rsa.crt holds an RSA key" "the key types tell"

# --- a child opens the token; the parent never did ------------------------
for k in ec rsa; do
	check "$k: a forked child opens the key and signs; the parent never loaded the module" \
	    probe fork "$(softhsm_uri "ca-$k")" "$T/ca-$k.crt"
done

# --- refusals -------------------------------------------------------------
WRONG=$(softhsm_random_pin 9)
(umask 077; printf '%s\n' "$WRONG" > "$T/wrong.pin")
check_exit 1 "a wrong PIN is refused" \
    "$PROBE" -m "$M" -p "$T/wrong.pin" match "$(softhsm_uri ca-ec)" "$T/ca-ec.crt"
last_says "pin_file .*wrong.pin: the token refused the PIN \(PIN incorrect\)" \
    "the line names the PIN file and says the token refused the PIN"
one_line "in one line"
no_pin "without the wrong PIN or the right one" "$WRONG" "$SOFTHSM_USER_PIN"

cp "$PIN" "$T/open.pin"; chmod 644 "$T/open.pin"
check_exit 1 "a PIN file that others may read is refused" \
    "$PROBE" -m "$M" -p "$T/open.pin" match "$(softhsm_uri ca-ec)" "$T/ca-ec.crt"
last_says "open.pin: mode 0644 lets group or others access a secret" "it says why"
one_line "in one line"
no_pin "without the PIN" "$SOFTHSM_USER_PIN"

check_exit 1 "a token key without a PIN file is refused" \
    "$PROBE" -m "$M" match "$(softhsm_uri ca-ec)" "$T/ca-ec.crt"
last_says "pin_file must name the file" "it says what is missing"

check_exit 1 "a second open in the same process is refused, even with a wrong PIN" \
    probe reopen "$(softhsm_uri ca-ec)" "$T/ca-ec.crt" "$T/wrong.pin"
last_says "opened a token key before; the token is still logged in" \
    "it says why (libp11 never logs out)"
one_line "in one line"

check_exit 1 "a URI that carries the PIN is refused" \
    probe match "$(softhsm_uri ca-ec)?pin-value=$SOFTHSM_USER_PIN" "$T/ca-ec.crt"
last_says "carries a PIN; put the PIN in a file" "it says where the PIN goes"
no_pin "without repeating the PIN" "$SOFTHSM_USER_PIN"

check_exit 1 "a URI that names no key is refused" \
    probe match "pkcs11:token=$SOFTHSM_TOKEN" "$T/ca-ec.crt"
last_says "names no key: add object=LABEL or id=HEX" "it says what to add"

check_exit 1 "an unknown object is refused" \
    probe match "$(softhsm_uri nosuch)" "$T/ca-ec.crt"
last_says "token '$SOFTHSM_TOKEN' holds no private key that matches it" \
    "the line says the token is there but the key is not"
one_line "in one line"

check_exit 1 "an unknown token is refused" \
    probe match "pkcs11:token=nosuch;object=ca-ec;type=private" "$T/ca-ec.crt"
last_says "no token matches it in module .*libsofthsm2.so \(tokens there: '$SOFTHSM_TOKEN'\)" \
    "the line says no token matches and lists the tokens there"
one_line "in one line"

mkdir "$T/no-engines"
check_exit 1 "no pkcs11 engine (OPENSSL_ENGINES names an empty directory) is refused" \
    env OPENSSL_ENGINES="$T/no-engines" "$PROBE" -m "$M" -p "$PIN" \
    match "$(softhsm_uri ca-ec)" "$T/ca-ec.crt"
last_says "pkcs11 engine is not installed in .*no-engines \(on Debian: apt-get install libengine-pkcs11-openssl\)" \
    "the line names the package"
one_line "in one line"

check_exit 1 "a module that is not there is refused" \
    "$PROBE" -m "$T/nosuch.so" -p "$PIN" match "$(softhsm_uri ca-ec)" "$T/ca-ec.crt"
last_says "pkcs11_module .*nosuch.so: does not load" "the line names the module"
one_line "in one line"

# --- how fast the token signs (for the record; any rate passes) -----------
for k in ec:2000 rsa:300; do
	check "${k%%:*}: ${k#*:} signatures with the token key" \
	    probe bench "$(softhsm_uri "ca-${k%%:*}")" "${k#*:}"
	sed 's/^/#   /' "$T/last.out"
done

cs_done
