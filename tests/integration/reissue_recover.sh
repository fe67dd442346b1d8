#!/bin/sh
# reissue_recover.sh - a user changes address, and her old mail stays
# readable.
#
# The story: alice@example.test (--user alice) gets her certificates and
# receives a CMS message encrypted to her encryption certificate.  She is
# reissued as alice.smith@example.test, keeping her old address as an alias.
# Proves that:
#  - the old certificates are revoked (affiliationChanged: the address set
#    changed), in "show" and in the CRL; their keys have left the keystore
#    and sit in the archive, mode 0600 (the commands run under umask 022, so
#    the mode is the product's doing), the archive directory 0700;
#  - the new key cannot read the old message, the key handed back by
#    "recover alice@example.test" (the archived one, not the active one that
#    also names that address) can: the recovered PKCS#12 is mode 0600, opens
#    with the password from --password-file and not with the archive's;
#  - recover refuses to overwrite --out (exit 73, file unchanged), even a
#    dangling symlink; refuses a group/other-readable --password-file
#    (message names the file and the mode, nothing written) and accepts 0400;
#  - a second reissue with the same addresses and a new --name revokes with
#    reason superseded (show and CRL); recover by address now finds two
#    archived encryption keys and asks for a serial (exit 64, both listed);
#    recover by serial works;
#  - the audit trail has the issue, archive, revoke and recover entries and
#    neither password appears in anything the commands printed.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need openssl stat cmp
cs_setup
OUT="$T/outputs"; : > "$OUT"
# Every command under umask 022, its output kept to search for passwords.
ctl() { (umask 022; "$CTL" -c "$CONF" "$@" 2>&1 | tee -a "$OUT"); }
# tee hides the exit status; ctl_rc keeps it.
ctl_rc() {
	rc=0
	(umask 022; "$CTL" -c "$CONF" "$@" > "$T/ctl.out" 2>&1) || rc=$?
	cat "$T/ctl.out" >> "$OUT"; cat "$T/ctl.out"; return $rc
}

mode_of() { stat -c %a "$1"; }
is_mode() { m=$(mode_of "$1") && echo "$1: $m" && [ "$m" = "$2" ]; }

# key_from P12 PASSFILE OUTKEY
key_from() {
	openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts -out "$3"
}

# decrypts KEY: the old message opens with KEY and reads as sent.
decrypts() {
	openssl cms -decrypt -binary -in "$T/old.p7m" -inkey "$1" -out "$T/old.out" &&
	cmp "$T/old.txt" "$T/old.out"
}

# crl_reason SERIAL REASON: the CRL entry for SERIAL has REASON.
crl_reason() {
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text |
	    awk -v s="$1" '/Serial Number:/ { on = ($3 == s) } on' | tee "$T/crl.entry"
	grep -q "$2" "$T/crl.entry"
}

# audit_has ACTION SERIAL [REGEX]
audit_has() {
	ctl_rc audit --last 0 | awk -v a="$1" -v s="$2" '$3 == a && $5 == s' > "$T/audit.hit"
	cat "$T/audit.hit"
	[ -s "$T/audit.hit" ] && grep -Eq -- "${3:-.}" "$T/audit.hit"
}

# ---- issue, and a message for alice ------------------------------------------
check_exit 0 "issue alice@example.test --user alice" \
    ctl_rc issue alice@example.test --user alice
e1=$(cs_serial encryption alice@example.test)
s1=$(cs_serial signing alice@example.test)
cs_cert_pem encryption alice@example.test > "$T/enc1.pem"
printf 'Subject: before the move\n\nold secrets for alice\n' > "$T/old.txt"
check "encrypt a message to alice's encryption certificate" \
    openssl cms -encrypt -aes256 -binary -in "$T/old.txt" -out "$T/old.p7m" "$T/enc1.pem"
check "keystore has her encryption key, mode 600" \
    is_mode "$T/keystore/encryption-$e1.p12" 600

# ---- reissue under a new address ------------------------------------------
check_exit 0 "reissue as alice.smith@example.test (alias alice@example.test)" \
    ctl_rc issue alice.smith@example.test --alias alice@example.test --user alice
last_says 'affiliationChanged' "reissue reports affiliationChanged"
e2=$(cs_serial encryption alice.smith@example.test)
s2=$(cs_serial signing alice.smith@example.test)
check "new serials differ from the old ones ($e1 -> $e2)" \
    test -n "$e2" -a "$e2" != "$e1" -a -n "$s2" -a "$s2" != "$s1"
for s in "$e1" "$s1"; do
	check_exit 0 "show $s" ctl_rc show "$s"
	last_says '^Status: +revoked' "$s is revoked"
	last_says '^Revoked: .*affiliationChanged' "$s: reason affiliationChanged"
	check "CRL lists $s as Affiliation Changed" crl_reason "$s" 'Affiliation Changed'
done
check "old encryption key is gone from the keystore" \
    test ! -e "$T/keystore/encryption-$e1.p12"
check "old signing key is gone from the keystore" \
    test ! -e "$T/keystore/signing-$s1.p12"
check "old encryption key is in the archive, mode 600" \
    is_mode "$T/archive/encryption-$e1.p12" 600
check "old signing key is in the archive, mode 600" \
    is_mode "$T/archive/signing-$s1.p12" 600
check "archive directory is mode 700" is_mode "$T/archive" 700
check "new encryption key is in the keystore, mode 600" \
    is_mode "$T/keystore/encryption-$e2.p12" 600

check "new key out of the keystore" \
    key_from "$T/keystore/encryption-$e2.p12" "$T/archive.pass" "$T/new.key"
check_fails "the new key cannot read the old message" decrypts "$T/new.key"

# ---- recover ------------------------------------------------------------------
printf 'fresh-pass-%s\n' "$$" > "$T/newpw"
chmod 600 "$T/newpw"
check_exit 0 "recover alice@example.test --out r.p12" \
    ctl_rc recover alice@example.test --out "$T/r.p12" --password-file "$T/newpw"
last_says "$e1" "recover picked the archived key $e1, not the active one"
check "r.p12 is mode 600" is_mode "$T/r.p12" 600
check "r.p12 opens with the new password" \
    key_from "$T/r.p12" "$T/newpw" "$T/recovered.key"
check_fails "r.p12 does not open with the archive password" \
    key_from "$T/r.p12" "$T/archive.pass" "$T/nope.key"
check "r.p12 holds the old encryption certificate" sh -c \
    'openssl pkcs12 -in "$1" -passin "file:$2" -nokeys -clcerts |
     openssl x509 -noout -serial | grep -qx "serial=$3"' sh "$T/r.p12" "$T/newpw" "$e1"
check "the recovered key reads the old message" decrypts "$T/recovered.key"
check "the archive still has the key after recover" test -s "$T/archive/encryption-$e1.p12"

cp "$T/r.p12" "$T/r.p12.before"
check_exit 73 "recover refuses to overwrite --out" \
    ctl_rc recover alice@example.test --out "$T/r.p12" --password-file "$T/newpw"
last_says 'r\.p12' "the message names the file"
check "r.p12 is unchanged" cmp "$T/r.p12" "$T/r.p12.before"
ln -s "$T/elsewhere.p12" "$T/link.p12"
check_exit 73 "recover refuses a dangling symlink as --out" \
    ctl_rc recover alice@example.test --out "$T/link.p12" --password-file "$T/newpw"
check "nothing was written through the symlink" test ! -e "$T/elsewhere.p12"

chmod 644 "$T/newpw"
check_fails "recover refuses a --password-file of mode 0644" \
    ctl_rc recover alice@example.test --out "$T/r2.p12" --password-file "$T/newpw"
last_says 'newpw' "the message names the password file"
last_says '0?644' "the message names the mode"
check "nothing was written" test ! -e "$T/r2.p12"
chmod 400 "$T/newpw"
check_exit 0 "a --password-file of mode 0400 is fine" \
    ctl_rc recover alice@example.test --out "$T/r2.p12" --password-file "$T/newpw"
chmod 600 "$T/newpw"

# ---- second reissue: same addresses, new name ---------------------------------
check_exit 0 "reissue with the same addresses and --name 'Alice Smith'" \
    ctl_rc issue alice.smith@example.test --alias alice@example.test --user alice \
    --name "Alice Smith"
last_says 'superseded' "reissue reports superseded"
e3=$(cs_serial encryption alice.smith@example.test)
check "a third encryption certificate ($e3)" test -n "$e3" -a "$e3" != "$e2"
for s in "$e2" "$s2"; do
	check_exit 0 "show $s" ctl_rc show "$s"
	last_says '^Revoked: .*superseded' "$s: reason superseded"
	check "CRL lists $s as Superseded" crl_reason "$s" 'Superseded'
done
check "CRL still lists $e1 as Affiliation Changed" crl_reason "$e1" 'Affiliation Changed'
check "$e2 archived, mode 600" is_mode "$T/archive/encryption-$e2.p12" 600
cs_cert_pem encryption alice.smith@example.test > "$T/enc3.pem"
check "the new certificate carries the new name" sh -c \
    'openssl x509 -in "$1" -noout -subject | grep -q "Alice Smith"' sh "$T/enc3.pem"

check_exit 64 "recover by address with two archived keys asks for a serial" \
    ctl_rc recover alice@example.test --out "$T/r3.p12" --password-file "$T/newpw"
last_says "$e1" "the message lists $e1"
last_says "$e2" "the message lists $e2"
check "nothing was written" test ! -e "$T/r3.p12"
check_exit 0 "recover by serial $e2" \
    ctl_rc recover "$e2" --out "$T/r3.p12" --password-file "$T/newpw"
check "it holds $e2" sh -c \
    'openssl pkcs12 -in "$1" -passin "file:$2" -nokeys -clcerts |
     openssl x509 -noout -serial | grep -qx "serial=$3"' sh "$T/r3.p12" "$T/newpw" "$e2"
check_exit 0 "recover by serial $e1 still works" \
    ctl_rc recover "$e1" --out "$T/r4.p12" --password-file "$T/newpw"
check "r4.p12 opens with the new password" sh -c \
    'openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts -out "$3"' sh \
    "$T/r4.p12" "$T/newpw" "$T/r4.key"
check "the key recovered by serial reads the old message" decrypts "$T/r4.key"

# ---- audit ----------------------------------------------------------------------
check "audit: issue of $e1" audit_has issue "$e1"
check "audit: archive of $e1" audit_has archive "$e1"
check "audit: revoke of $e1, affiliationChanged" audit_has revoke "$e1" affiliationChanged
check "audit: revoke of $e2, superseded" audit_has revoke "$e2" superseded
check "audit: recover of $e1" audit_has recover "$e1"
check "audit: recover of $e2" audit_has recover "$e2"
check "audit: CRL entries" audit_has crl - 'CRL number'

# ---- no secrets on the screen -------------------------------------------------
ctl_rc audit --last 0 >/dev/null
ctl_rc list >/dev/null
for f in archive.pass newpw; do
	check "the password in $f appears in no output" \
	    sh -c '! grep -qF -- "$(head -n 1 "$1")" "$2"' sh "$T/$f" "$OUT"
done
cs_done
