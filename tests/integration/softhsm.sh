# tests/integration/softhsm.sh - a private SoftHSM2 token holding a CA key,
# for the tests of certsync's PKCS#11 support.
#
# Owns: one SoftHSM2 token store per test, entirely inside $T/softhsm (its
# own softhsm2.conf, token directory, PIN files), and a CA key pair made in
# the token with the tools an administrator uses on a real HSM.
# Never: touches /etc/softhsm, /var/lib/softhsm or the machine's p11-kit
# configuration, and never writes a PIN into a file group or others can read.
#
# Usage, after lib.sh and cs_setup:
#     . "$CS_SRCDIR/tests/integration/softhsm.sh"
#     softhsm_setup                          # token "certsync-test"
#     softhsm_keygen ca-ec EC:prime256v1     # a key pair labelled ca-ec
#     softhsm_ca_cert ca-ec "$T/ca-ec.crt" "/CN=Token CA"
#
# Sets and exports: SOFTHSM2_CONF (read by libsofthsm2 in every process of the
# test, certsync's included), SOFTHSM_MODULE (the PKCS#11 module),
# SOFTHSM_TOKEN (the token's label), SOFTHSM_PIN_FILE (the user PIN, mode
# 0600, no line ending), SOFTHSM_USER_PIN and SOFTHSM_SO_PIN (random per
# test; in the environment only for pkcs11-tool's --pin env:VAR).
# softhsm_uri LABEL prints the PKCS#11 URI of a private key in the token.
#
# The steps, as an administrator runs them on a real HSM (each function
# below is one of them, with the same tools):
#   1. Initialize the token (or a partition of the HSM) with its SO PIN and
#      user PIN.  softhsm2-util is SoftHSM's tool; a real HSM has its vendor's.
#      Without --pin/--so-pin, softhsm2-util asks on the terminal: do that
#      for real PINs, so they appear in no process list or shell history.
#   2. Generate the CA key pair inside the token, never outside it:
#        pkcs11-tool --module MODULE --token-label LABEL --login \
#            --keypairgen --key-type EC:prime256v1 --usage-sign \
#            --label certsync-ca --id 01
#      (pkcs11-tool asks for the user PIN when --pin is not given; --pin
#      env:VAR reads it from the environment.)  The private key is created
#      sensitive and never extractable.
#   3. Put the user PIN in a file only the certsync user can read, with no
#      line ending: the OpenSSL engine's pin-source=file: takes the whole
#      file, so a trailing newline becomes part of the PIN ("PIN incorrect");
#      certsync itself reads the first line either way.
#        (umask 077; printf '%s' 'PIN' > /etc/certsync/ca.pin)
#   4. Make the self-signed CA certificate with the key in the token, through
#      the OpenSSL engine (Debian: libengine-pkcs11-openssl; the module from
#      PKCS11_MODULE_PATH, else p11-kit-proxy, which loads every module that
#      p11-kit knows):
#        PKCS11_MODULE_PATH=MODULE openssl req -new -x509 -engine pkcs11 \
#            -keyform engine -sha256 -days 3650 -subj '/CN=Example CA' \
#            -key 'pkcs11:token=LABEL;object=certsync-ca;type=private?pin-source=file:/etc/certsync/ca.pin' \
#            -config ca-req.cnf -out ca.crt
#      with the CA extensions in ca-req.cnf (softhsm_ca_cert writes one).
#   5. certsync names the key by its URI, without the PIN:
#        pkcs11:token=LABEL;object=certsync-ca;type=private
#      and reads the PIN from its own file setting; a URI that carries
#      pin-value= or pin-source= is refused.

SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SOFTHSM_TOKEN=certsync-test
export SOFTHSM_MODULE SOFTHSM_TOKEN

# A random decimal PIN of N digits (SoftHSM accepts 4 to 255 characters).
softhsm_random_pin() {
	od -An -N16 -tu8 /dev/urandom | tr -dc 0-9 | cut -c1-"$1"
}

softhsm_setup() {
	cs_need softhsm2-util pkcs11-tool openssl od
	[ -r "$SOFTHSM_MODULE" ] || {
		echo "FATAL: $SOFTHSM_MODULE is missing (apt-get install softhsm2)" >&2
		exit 99
	}
	mkdir -p "$T/softhsm/tokens"
	SOFTHSM2_CONF=$T/softhsm/softhsm2.conf
	cat > "$SOFTHSM2_CONF" <<EOF
directories.tokendir = $T/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
	SOFTHSM_USER_PIN=$(softhsm_random_pin 8)
	SOFTHSM_SO_PIN=$(softhsm_random_pin 10)
	SOFTHSM_PIN_FILE=$T/softhsm/user.pin
	(umask 077; printf '%s' "$SOFTHSM_USER_PIN" > "$SOFTHSM_PIN_FILE")
	export SOFTHSM2_CONF SOFTHSM_USER_PIN SOFTHSM_SO_PIN SOFTHSM_PIN_FILE
	softhsm2-util --init-token --free --label "$SOFTHSM_TOKEN" \
	    --so-pin "$SOFTHSM_SO_PIN" --pin "$SOFTHSM_USER_PIN" >"$T/softhsm/init.out" 2>&1 || {
		cat "$T/softhsm/init.out" >&2
		echo "FATAL: softhsm2-util could not initialize the test token" >&2
		exit 99
	}
}

# softhsm_keygen LABEL KEYTYPE [ID]: a key pair made in the token, for
# signing only; KEYTYPE as pkcs11-tool spells it (EC:prime256v1, rsa:2048).
softhsm_keygen() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$SOFTHSM_TOKEN" \
	    --login --pin env:SOFTHSM_USER_PIN --keypairgen --key-type "$2" \
	    --usage-sign --label "$1" --id "${3:-$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')}" \
	    >"$T/softhsm/keygen-$1.out" 2>&1 || {
		cat "$T/softhsm/keygen-$1.out" >&2
		echo "FATAL: pkcs11-tool could not make key pair $1 in the test token" >&2
		exit 99
	}
}

# softhsm_uri LABEL: the URI certsync takes for the private key LABEL.
softhsm_uri() {
	printf 'pkcs11:token=%s;object=%s;type=private\n' "$SOFTHSM_TOKEN" "$1"
}

# softhsm_ca_cert LABEL OUT SUBJECT: a self-signed CA certificate for the
# token key LABEL, signed in the token by OpenSSL's pkcs11 engine, with the
# extensions certsyncctl init-ca gives a CA made from a key file.
softhsm_ca_cert() {
	cat > "$T/softhsm/ca-req.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = ca
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
	PKCS11_MODULE_PATH=$SOFTHSM_MODULE openssl req -new -x509 -engine pkcs11 \
	    -keyform engine -sha256 -days 3650 -subj "$3" \
	    -key "$(softhsm_uri "$1")?pin-source=file:$SOFTHSM_PIN_FILE" \
	    -config "$T/softhsm/ca-req.cnf" -out "$2" >"$T/softhsm/req-$1.out" 2>&1 || {
		cat "$T/softhsm/req-$1.out" >&2
		echo "FATAL: openssl req could not make a CA certificate with token key $1" >&2
		exit 99
	}
}
