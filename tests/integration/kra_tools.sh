#!/bin/sh
# kra_tools.sh - key recovery agents: what certsync wraps, officers open with
# standard tools.
#
# Proves, with agent keys and certificates made by the openssl CLI (alice
# RSA-2048, bob RSA-3072, carol EC P-256) and the key recovery code driven
# through tests/unit/kra_probe:
#   - the agent loader accepts them (fingerprints as openssl prints them) and
#     refuses, one line naming each file, a 1024-bit RSA key, an RSA key
#     whose keyUsage forbids keyEncipherment, a file that also holds a
#     private key, a copy of an agent, and a glob matching nothing;
#   - 2-of-3: "openssl cms -decrypt" opens each agent's envelope with that
#     agent's key only (RSA-OAEP/SHA-256, ECDH with the SHA-256 KDF and
#     AES-256 key wrap, AES-256-CBC content, as cms -print shows); any two
#     decrypted shares give back the secret, through kra_probe combine and
#     through an independent reading of the documented format (python3,
#     standard library only); one share alone is refused;
#   - an officer finds and extracts their own envelope from the bundle with
#     openssl asn1parse alone, by their certificate's fingerprint;
#   - 1-of-3: each agent's decrypted share shows the password on the share
#     line of openssl asn1parse; a PKCS#12 exported under that password opens
#     in openssl pkcs12, NSS pk12util and GnuTLS certtool;
#   - PBKDF2 iteration count 1 (the archive's own writer, and the openssl CLI
#     with PBES2 and with the legacy 3DES profile): all three readers open it.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need openssl pk12util certutil certtool python3
cs_setup
PROBE="$CS_BUILDDIR/tests/unit/kra_probe"
[ -x "$PROBE" ] || { echo "FATAL: $PROBE is not built (make check builds it)" >&2; exit 99; }

mkdir -p "$T/kra" "$T/officers" "$T/bad"
# agent NAME KEYUSAGE NEWKEY-ARGS...: the key in officers/, the certificate
# in kra/; KEYUSAGE "" for none.
agent() {
	name=$1 ku=$2; shift 2
	set -- "$@" -subj "/CN=$name (recovery agent)" -days 30 \
	    -keyout "$T/officers/$name.key" -out "$T/kra/$name.pem"
	[ -z "$ku" ] || set -- "$@" -addext "keyUsage=$ku"
	openssl req -x509 -nodes -newkey "$@" 2>/dev/null
}
check "openssl makes alice (RSA-2048, keyEncipherment)" agent alice keyEncipherment rsa:2048
check "openssl makes bob (RSA-3072, no keyUsage)" agent bob "" rsa:3072
check "openssl makes carol (EC P-256, keyAgreement)" \
    agent carol keyAgreement ec -pkeyopt ec_paramgen_curve:P-256
check "carol's certificate holds a P-256 key" \
    sh -c "openssl x509 -in '$T/kra/carol.pem' -noout -text | grep -q 'NIST CURVE: P-256'"

fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'; }
agents_listed() {
	"$PROBE" agents "$T/kra/*.pem" > "$T/agents.out" || return 1
	cat "$T/agents.out"
	for a in alice bob carol; do
		grep -qx "$T/kra/$a.pem $(fp "$T/kra/$a.pem")" "$T/agents.out" || return 1
	done
	[ "$(wc -l < "$T/agents.out")" -eq 3 ]
}
check "the loader accepts the three, with openssl's SHA-256 fingerprints" agents_listed

# ---- refused agent files -------------------------------------------------------
# refused PATTERN FILE TEXT: loading fails, with a line naming FILE and TEXT.
refused() {
	! "$PROBE" agents "$1" 2> "$T/refused.err" || return 1
	cat "$T/refused.err"
	grep -F -- "$2: $3" "$T/refused.err"
}
openssl req -x509 -newkey rsa:1024 -nodes -subj /CN=small -days 30 \
    -keyout /dev/null -out "$T/bad/small.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=signer -days 30 \
    -addext keyUsage=digitalSignature -keyout /dev/null -out "$T/bad/signer.pem" 2>/dev/null
cat "$T/kra/alice.pem" "$T/officers/alice.key" > "$T/bad/withkey.pem"
cp "$T/kra/bob.pem" "$T/bad/bob-copy.pem"
cp "$T/kra/bob.pem" "$T/bad/bob.pem"
check "a 1024-bit RSA agent is refused, naming its file" \
    refused "$T/bad/*.pem" "$T/bad/small.pem" "RSA key of 1024 bits"
check "an RSA agent without keyEncipherment is refused" \
    refused "$T/bad/*.pem" "$T/bad/signer.pem" "its keyUsage lacks keyEncipherment"
check "a file with an agent's private key in it is refused" \
    refused "$T/bad/*.pem" "$T/bad/withkey.pem" "it holds a private key"
check "the same agent twice is refused" \
    refused "$T/bad/*.pem" "$T/bad/bob.pem" "the same certificate as $T/bad/bob-copy.pem"
check "one line per bad file: four" test "$(wc -l < "$T/refused.err")" -eq 4
nothing_matches() {
	! "$PROBE" agents "$T/none/*.pem" 2> "$T/none.err" || return 1
	cat "$T/none.err"
	grep -F "no file matches $T/none/*.pem" "$T/none.err"
}
check "a pattern that matches nothing is refused" nothing_matches

# ---- 2 of 3 ----------------------------------------------------------------------
SECRET=$(openssl rand -hex 32 | tr a-f A-F)
mkdir "$T/q2"
check "kra_probe wraps the secret 2-of-3 to alice, bob, carol" \
    "$PROBE" wrap "$SECRET" 2 encryption-0A1B.p12 "$T/q2" "$T/kra/*.pem"

# decrypt DIR I NAME: what officer NAME types to open envelope I, into
# DIR/plain-I.der.
decrypt() {
	openssl cms -decrypt -inform DER -in "$1/share-$2.cms" \
	    -inkey "$T/officers/$3.key" -recip "$T/kra/$3.pem" -out "$1/plain-$2.der"
}
# says FILE REGEX...: openssl cms -print of envelope FILE matches each REGEX.
cms_says() {
	f=$1; shift
	out=$(openssl cms -cmsout -print -inform DER -in "$f" 2>&1) || { echo "$out"; return 1; }
	for re in "$@"; do
		printf '%s\n' "$out" | grep -Eq -- "$re" || { echo "missing: $re"; return 1; }
	done
}
combined() { "$PROBE" combine "$@"; }
i=0
for a in alice bob carol; do
	i=$((i + 1))
	check "openssl cms -decrypt opens share $i with $a's key" decrypt "$T/q2" $i $a
done
# oaep_sha256 FILE: the OAEP hash and the MGF1 hash are both SHA-256.
oaep_sha256() {
	[ "$(openssl cms -cmsout -print -inform DER -in "$1" | grep -Ec 'OBJECT +:sha256')" -eq 2 ]
}
for i in 1 2; do
	check "envelope $i (RSA): RSA-OAEP, MGF1, AES-256-CBC" \
	    cms_says "$T/q2/share-$i.cms" 'algorithm: rsaesOaep' 'OBJECT +:mgf1' \
	    'algorithm: aes-256-cbc'
	check "envelope $i (RSA): OAEP and MGF1 hash with SHA-256" oaep_sha256 "$T/q2/share-$i.cms"
done
check "carol's envelope: ECDH, SHA-256 KDF, AES-256 key wrap, AES-256-CBC" \
    cms_says "$T/q2/share-3.cms" dhSinglePass-stdDH-sha256kdf-scheme id-aes256-wrap aes-256-cbc
# wrong_key I NAME KEYOWNER: KEYOWNER's key gets nothing out of NAME's
# envelope I.  openssl cms, given -recip, hides an RSA key transport
# failure (its defence against Bleichenbacher-style oracles) and decrypts
# the content with a random key instead: usually "bad decrypt", about once
# in 256 tries garbage and exit 0.  Either way the output is no share.
wrong_key() {
	openssl cms -decrypt -inform DER -in "$T/q2/share-$1.cms" \
	    -inkey "$T/officers/$3.key" -recip "$T/kra/$2.pem" -out "$T/wrong.der" || :
	! cmp -s "$T/wrong.der" "$T/q2/plain-$1.der" &&
	! combined "$T/wrong.der" "$T/q2/plain-3.der" &&
	! combined "$T/wrong.der"
}
check "bob's key gets no share out of alice's envelope" wrong_key 1 alice bob
check "carol's key gets no share out of bob's envelope" wrong_key 2 bob carol
check_fails "alice's key is not carol's (ECDH)" \
    openssl cms -decrypt -inform DER -in "$T/q2/share-3.cms" \
    -inkey "$T/officers/alice.key" -recip "$T/kra/carol.pem" -out "$T/wrong.der"

for pair in "1 2" "1 3" "2 3" "3 1"; do
	# shellcheck disable=SC2086
	set -- $pair
	check "shares $1 and $2 combine to the secret" \
	    test "$(combined "$T/q2/plain-$1.der" "$T/q2/plain-$2.der")" = "$SECRET"
done
check "all three combine to the secret" \
    test "$(combined "$T/q2/plain-1.der" "$T/q2/plain-2.der" "$T/q2/plain-3.der")" = "$SECRET"
# alone I: one share is refused, saying how many are needed.
alone() {
	! combined "$T/q2/plain-$1.der" 2> "$T/alone.err" > "$T/alone.out" || return 1
	cat "$T/alone.err"
	grep -q "1 share given, 2 needed (any 2 of 3)" "$T/alone.err" &&
	    ! grep -q . "$T/alone.out"
}
for i in 1 2 3; do
	check "share $i alone is refused" alone $i
done
check_fails "share 1 twice is refused" combined "$T/q2/plain-1.der" "$T/q2/plain-1.der"
check "kra_unwrap gives the very bytes openssl cms -decrypt gave (alice)" \
    sh -c "'$PROBE' unwrap '$T/q2/share-1.cms' '$T/officers/alice.key' '$T/kra/alice.pem' '$T/q2/ours-1.der' && cmp '$T/q2/ours-1.der' '$T/q2/plain-1.der'"
check "kra_unwrap gives the very bytes openssl cms -decrypt gave (carol)" \
    sh -c "'$PROBE' unwrap '$T/q2/share-3.cms' '$T/officers/carol.key' '$T/kra/carol.pem' '$T/q2/ours-3.der' && cmp '$T/q2/ours-3.der' '$T/q2/plain-3.der'"

# An independent reader of kra.h's KraShare: DER by hand, GF(2^8) by long
# division, Lagrange at 0, the check value verified.  Prints the password.
cat > "$T/combine.py" <<'PY'
import hashlib, sys

def tlv(b, i):
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, b[i:i + n], i + n

def share(path):
    data = open(path, "rb").read()
    tag, body, end = tlv(data, 0)
    assert tag == 0x30 and end == len(data)
    fields, i = [], 0
    while i < len(body):
        t, v, i = tlv(body, i)
        fields.append((t, v))
    assert [t for t, _ in fields] == [2, 2, 2, 2, 0x0c, 4, 4, 4]
    ver, m, n, x = (int.from_bytes(v, "big") for _, v in fields[:4])
    assert ver == 1
    return {"m": m, "x": x, "split": fields[5][1], "check": fields[6][1],
            "y": fields[7][1]}

def mul(a, b):
    p = 0
    for i in range(8):
        if b >> i & 1:
            p ^= a << i
    for i in range(14, 7, -1):
        if p >> i & 1:
            p ^= 0x11b << (i - 8)
    return p

def inv(a):
    return next(c for c in range(1, 256) if mul(a, c) == 1)

shares = [share(p) for p in sys.argv[1:]]
if len(shares) < shares[0]["m"]:
    sys.exit("too few shares")
secret = bytearray(32)
for i, s in enumerate(shares):
    num = den = 1
    for j, o in enumerate(shares):
        if j != i:
            num, den = mul(num, o["x"]), mul(den, s["x"] ^ o["x"])
    w = mul(num, inv(den))
    for k in range(32):
        secret[k] ^= mul(w, s["y"][k])
digest = hashlib.sha256(b"certsync-kra-v1" + shares[0]["split"] + bytes(secret))
if digest.digest() != shares[0]["check"]:
    sys.exit("check value differs")
print(bytes(secret).hex().upper())
PY
pycombine() { python3 "$T/combine.py" "$@"; }
check "python3 (format as documented) combines shares 2 and 3 to the secret" \
    test "$(pycombine "$T/q2/plain-2.der" "$T/q2/plain-3.der")" = "$SECRET"
check "python3 combines shares 3 and 1 to the secret" \
    test "$(pycombine "$T/q2/plain-3.der" "$T/q2/plain-1.der")" = "$SECRET"
check_fails "python3 refuses share 2 alone" pycombine "$T/q2/plain-2.der"

# The officer's own way into the bundle: the envelope follows the OCTET
# STRING that holds their certificate's fingerprint.
officer_extracts() {
	f=$(fp "$T/kra/$1.pem")
	off=$(openssl asn1parse -inform DER -in "$T/q2/bundle.kra" |
	    awk -v fp="$f" 'hit { sub(/:.*/, ""); print $1; exit }
	        index($0, "[HEX DUMP]:" fp) { hit = 1 }')
	[ -n "$off" ] || return 1
	openssl asn1parse -inform DER -in "$T/q2/bundle.kra" -strparse "$off" \
	    -noout -out "$T/q2/$1-own.cms" &&
	cmp "$T/q2/$1-own.cms" "$T/q2/share-$2.cms"
}
check "bob finds and extracts his envelope with openssl asn1parse" officer_extracts bob 2
check "carol finds and extracts hers" officer_extracts carol 3

# ---- 1 of 3: any one agent, and the real PKCS#12 -----------------------------
SECRET1=$(openssl rand -hex 32 | tr a-f A-F)
mkdir "$T/q1"
check "kra_probe wraps a secret 1-of-3" \
    "$PROBE" wrap "$SECRET1" 1 encryption-0A1C.p12 "$T/q1" "$T/kra/*.pem"
# The password an officer reads off openssl asn1parse: the last line, the
# share, printed as upper-case hex.
asn1_password() {
	openssl asn1parse -inform DER -in "$T/q1/plain-$1.der" |
	    tail -n 1 | sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p'
}
i=0
for a in alice bob carol; do
	i=$((i + 1))
	check "[1-of-3] $a alone decrypts her/his share" decrypt "$T/q1" $i $a
	check "[1-of-3] $a's share line in openssl asn1parse is the password" \
	    test "$(asn1_password $i)" = "$SECRET1"
	check "[1-of-3] $a's share alone combines to the password" \
	    test "$(combined "$T/q1/plain-$i.der")" = "$SECRET1"
done
PW=$(asn1_password 3)
check "the label names the archive file" \
    sh -c "openssl asn1parse -inform DER -in '$T/q1/plain-2.der' | grep -q 'UTF8STRING *:encryption-0A1C.p12'"

openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=Dora User" -days 30 \
    -keyout "$T/user.key" -out "$T/user.crt" 2>/dev/null
check "openssl pkcs12 -export under the random password" \
    openssl pkcs12 -export -inkey "$T/user.key" -in "$T/user.crt" \
    -passout "pass:$SECRET1" -out "$T/archive.p12"

# opens_* FILE PASSWORD
opens_openssl() {
	openssl pkcs12 -in "$1" -passin "pass:$2" -nodes -nocerts -out "$T/opened.key" &&
	[ "$(openssl pkey -in "$T/opened.key" -pubout)" = \
	    "$(openssl x509 -in "$T/user.crt" -noout -pubkey)" ]
}
n_db=0
opens_nss() {
	n_db=$((n_db + 1))
	mkdir "$T/nss$n_db" &&
	certutil -N -d "sql:$T/nss$n_db" --empty-password &&
	pk12util -i "$1" -d "sql:$T/nss$n_db" -W "$2" -K "" </dev/null &&
	certutil -L -d "sql:$T/nss$n_db" </dev/null | grep -q 'u,u,u' &&
	certutil -K -d "sql:$T/nss$n_db" </dev/null | grep -Eq '^< *0> rsa '
}
opens_gnutls() {
	out=$(certtool --p12-info --inder --password "$2" --infile "$1" 2>&1) ||
	    { echo "$out"; return 1; }
	printf '%s\n' "$out" | grep -q 'Type: Certificate' &&
	printf '%s\n' "$out" | grep -q 'PKCS #8 Encrypted key'
}
check "openssl pkcs12 opens it with the recovered password" opens_openssl "$T/archive.p12" "$PW"
check "NSS pk12util imports it with the recovered password" opens_nss "$T/archive.p12" "$PW"
check "GnuTLS certtool opens it with the recovered password" opens_gnutls "$T/archive.p12" "$PW"
check_fails "a wrong password does not open it (openssl)" opens_openssl "$T/archive.p12" "$SECRET"
check_fails "a lower-case password does not open it (NSS)" \
    opens_nss "$T/archive.p12" "$(echo "$PW" | tr A-F a-f)"

# ---- the fewest PBKDF2 iterations: 1 ---------------------------------------------
# iter_one FILE: openssl pkcs12 -info shows iteration 1 for the MAC and the
# key, and for the certificates too unless they are in plain data (ours:
# certificates are public), and no other count.
iter_one() {
	info=$(openssl pkcs12 -in "$1" -passin "pass:$PW" -noout -info 2>&1) || { echo "$info"; return 1; }
	echo "$info"
	n=$(printf '%s\n' "$info" | grep -Ec 'Iteration 1($|,)')
	if printf '%s\n' "$info" | grep -q 'PKCS7 Encrypted data'; then want=3; else want=2; fi
	[ "$n" -eq "$want" ] && [ "$(printf '%s\n' "$info" | grep -c Iteration)" -eq "$n" ]
}
check "the archive's PKCS#12 writer at 1 iteration (aes256 profile)" \
    "$PROBE" p12 "$T/user.key" "$T/user.crt" "$PW" 1 "$T/iter1-ours.p12"
check "openssl -export at 1 iteration, PBES2 AES-256" \
    openssl pkcs12 -export -inkey "$T/user.key" -in "$T/user.crt" -iter 1 \
    -passout "pass:$PW" -out "$T/iter1-aes.p12"
check "openssl -export at 1 iteration, legacy 3DES and SHA-1 MAC" \
    openssl pkcs12 -export -inkey "$T/user.key" -in "$T/user.crt" -iter 1 \
    -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
    -passout "pass:$PW" -out "$T/iter1-3des.p12"
for f in iter1-ours iter1-aes iter1-3des; do
	check "[$f] MAC, (encrypted) certificates and key all at iteration 1" iter_one "$T/$f.p12"
	check "[$f] openssl pkcs12 opens it" opens_openssl "$T/$f.p12" "$PW"
	check "[$f] NSS pk12util imports it" opens_nss "$T/$f.p12" "$PW"
	check "[$f] GnuTLS certtool opens it" opens_gnutls "$T/$f.p12" "$PW"
done
cs_done
