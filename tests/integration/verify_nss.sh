#!/bin/sh
# verify_nss.sh - NSS, the library Thunderbird uses, accepts what certsyncctl
# issues.
#
# Proves that each keystore PKCS#12 imports with pk12util (password from
# archive.pass) into an NSS database that trusts the CA ("CT,C,C"), brings
# its private key along, and that certutil -V calls the encryption
# certificate valid for usage R (email recipient) and the signing
# certificate valid for usage S (email signer); for rsa:2048, ec:P-256 and
# ec:P-384, for a dual certificate (valid for both R and S), and for the
# legacy PKCS#12 profile.  It also proves the profiles' algorithms with
# openssl pkcs12 -info: the default one is PBES2/PBKDF2 with AES-256-CBC and
# an HMAC-SHA256 MAC, its certificates in plain data (they are public),
# legacy is 3DES with a SHA-1 MAC, both with the configured iteration count,
# in the keystore and in the archive; and, with a DER reader of our own
# (p12_params.py), that the default profile's keystore files share the
# store's salt (the password is worked once) and each has its own IV.
#
# Each PKCS#12 goes into its own NSS database: the signing and encryption
# certificates share a subject DN, and NSS files all certificates of one
# subject under one nickname, so "certutil -V -n NICK" in a shared database
# would pick either of them.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need certutil pk12util openssl

# nss_db NAME: a fresh database $T/NAME that trusts the test CA.
nss_db() {
	mkdir "$T/$1" &&
	certutil -N -d "sql:$T/$1" --empty-password &&
	certutil -A -d "sql:$T/$1" -n "certsync Test CA" -t "CT,C,C" -a -i "$T/ca/ca.crt"
}

# p12_import DB FILE
p12_import() {
	pk12util -i "$2" -d "sql:$T/$1" -w "$T/archive.pass" -K "" </dev/null
}

# The nickname of the one user certificate (trust u,u,u) in DB.
user_nick() {
	certutil -L -d "sql:$T/$1" | sed -n 's/ *u,u,u *$//p'
}

# has_key DB NICK: the private key came along under NICK.
has_key() {
	out=$(certutil -K -d "sql:$T/$1" </dev/null 2>&1)
	echo "$out"
	printf '%s\n' "$out" | grep -qF -- "$2"
}

# valid_for DB NICK USAGE: certutil -V says "certificate is valid".
valid_for() {
	out=$(certutil -V -d "sql:$T/$1" -u "$3" -n "$2" 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	printf '%s\n' "$out" | grep -q 'certificate is valid'
}

# p12_info_says FILE REGEX...: every REGEX is in openssl pkcs12 -info's output.
p12_info_says() {
	f=$1; shift
	info=$(openssl pkcs12 -in "$f" -passin "file:$T/archive.pass" -noout -info 2>&1)
	echo "$info"
	for re in "$@"; do
		printf '%s\n' "$info" | grep -Eq -- "$re" || { echo "missing: $re"; return 1; }
	done
}

p12_info_lacks() {
	f=$1 re=$2
	info=$(openssl pkcs12 -in "$f" -passin "file:$T/archive.pass" -noout -info 2>&1)
	echo "$info"
	! printf '%s\n' "$info" | grep -Eq -- "$re"
}

AES_INFO='MAC: sha256, Iteration 2048
PKCS7 Data
Certificate bag
Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256'
LEGACY_INFO='MAC: sha1, Iteration 2048
PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048
Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048'

# profile_is FILE aes256|legacy
profile_is() {
	case $2 in
	aes256) info=$AES_INFO ;;
	legacy) info=$LEGACY_INFO ;;
	esac
	# One regex per line; the values contain no glob or IFS characters
	# but spaces, so split on newlines only.
	old_ifs=$IFS; IFS='
'
	set -- "$1" $info
	IFS=$old_ifs
	p12_info_says "$@"
}

# nss_accepts LABEL FILE USAGE...: FILE imports into a fresh database and its
# certificate is valid for every USAGE.
n_db=0
nss_accepts() {
	label=$1 file=$2; shift 2
	n_db=$((n_db + 1)); db="nss$n_db"
	check "$label: NSS database trusting the CA" nss_db "$db"
	check "$label: pk12util imports $(basename "$file")" p12_import "$db" "$file"
	nick=$(user_nick "$db")
	check "$label: one user certificate, nickname '$nick'" \
	    test -n "$nick" -a "$(user_nick "$db" | wc -l)" -eq 1
	check "$label: its private key is in the database" has_key "$db" "$nick"
	for usage in "$@"; do
		check "$label: certutil -V -u $usage says valid" valid_for "$db" "$nick" "$usage"
	done
}

next_setup() {
	[ -z "${T:-}" ] || [ -n "${CS_KEEP:-}" ] || rm -rf "$T"
	cs_setup
}

# ---- separate certificates, default (aes256) profile ---------------------
CS_MODE=separate CS_P12_PROFILE=aes256
for CS_KEY_TYPE in rsa:2048 ec:P-256 ec:P-384; do
	next_setup
	check "[$CS_KEY_TYPE] issue" ctl issue carol@example.test --alias c@example.test
	es=$(cs_serial encryption carol@example.test)
	ss=$(cs_serial signing carol@example.test)
	nss_accepts "[$CS_KEY_TYPE] encryption" "$T/keystore/encryption-$es.p12" R
	nss_accepts "[$CS_KEY_TYPE] signing" "$T/keystore/signing-$ss.p12" S
done
# The last run (ec:P-384) goes on: profile of keystore and archive files.
for f in "$T/keystore/encryption-$es.p12" "$T/keystore/signing-$ss.p12"; do
	check "aes256 profile: $(basename "$f") is AES-256-CBC/PBKDF2, sha256 MAC" \
	    profile_is "$f" aes256
	check "aes256 profile: $(basename "$f") has no 3DES or RC2, and its certificates are not encrypted" \
	    p12_info_lacks "$f" 'TripleDES|RC2|MAC: sha1|PKCS7 Encrypted data'
done
# The password is worked once per store: both files carry the store's salt
# (key bag and MAC alike) and the configured count, each its own IV.
params() { python3 "$CS_SRCDIR/tests/integration/p12_params.py" "$1"; }
one_salt() {
	params "$1" > "$T/p1"; params "$2" > "$T/p2"; cat "$T/p1" "$T/p2"
	s1=$(awk '$1 == "keybag-salt" { print $2 }' "$T/p1")
	[ -n "$s1" ] &&
	[ "$(awk '$1 ~ /salt$/ { print $2 }' "$T/p1" "$T/p2" | sort -u)" = "$s1" ] &&
	[ "$(awk '$1 ~ /iter$/ { print $2 }' "$T/p1" "$T/p2" | sort -u)" = 2048 ] &&
	i1=$(awk '$1 == "keybag-iv" { print $2 }' "$T/p1") &&
	i2=$(awk '$1 == "keybag-iv" { print $2 }' "$T/p2") &&
	[ ${#i1} -eq 32 ] && [ ${#i2} -eq 32 ] && [ "$i1" != "$i2" ]
}
check "aes256 profile: the keystore files share one salt, each has an IV of its own" \
    one_salt "$T/keystore/encryption-$es.p12" "$T/keystore/signing-$ss.p12"
check "reissue (archives the old keys)" ctl issue carol@example.test --name "Carol C" \
    --user carol@example.test
check "aes256 profile: the archived encryption key is AES-256/sha256 too" \
    profile_is "$T/archive/encryption-$es.p12" aes256
nss_accepts "archived encryption key" "$T/archive/encryption-$es.p12"

# ---- dual certificate ------------------------------------------------------
CS_MODE=dual
for CS_KEY_TYPE in rsa:2048 ec:P-256; do
	next_setup
	check "[dual $CS_KEY_TYPE] issue" ctl issue dave@example.test
	ds=$(cs_serial dual dave@example.test)
	nss_accepts "[dual $CS_KEY_TYPE]" "$T/keystore/dual-$ds.p12" R S
done

# ---- legacy profile ----------------------------------------------------------
CS_MODE=separate CS_P12_PROFILE=legacy
for CS_KEY_TYPE in rsa:2048 ec:P-256; do
	next_setup
	check "[legacy $CS_KEY_TYPE] issue" ctl issue erin@example.test
	es=$(cs_serial encryption erin@example.test)
	ss=$(cs_serial signing erin@example.test)
	for f in "$T/keystore/encryption-$es.p12" "$T/keystore/signing-$ss.p12"; do
		check "[legacy $CS_KEY_TYPE] $(basename "$f") is 3DES, sha1 MAC" \
		    profile_is "$f" legacy
		check "[legacy $CS_KEY_TYPE] $(basename "$f") has no PBES2/AES" \
		    p12_info_lacks "$f" 'PBES2|AES'
	done
	nss_accepts "[legacy $CS_KEY_TYPE] encryption" "$T/keystore/encryption-$es.p12" R
	nss_accepts "[legacy $CS_KEY_TYPE] signing" "$T/keystore/signing-$ss.p12" S
done
check "[legacy] reissue (archives the old keys)" ctl issue erin@example.test --name "Erin E" \
    --user erin@example.test
check "[legacy] the archived encryption key is 3DES/sha1 too" \
    profile_is "$T/archive/encryption-$es.p12" legacy
nss_accepts "[legacy] archived encryption key" "$T/archive/encryption-$es.p12"
cs_done
