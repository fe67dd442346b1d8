#!/bin/sh
# kra_crash.sh - a kill around the archive's new writes loses no key and
# leaves no archive file without its wrapped password.
#
# Two recovery agents (alice RSA, carol EC), any one of whom opens a file.
# Keys are archived by "certsyncctl issue" reissues (the job the daemon
# runs), killed by the test-only failpoints archive-after-bundle (the
# bundle written, not yet the file) and archive-after-file (both written,
# not yet recorded), and resumed by the next "certsyncctl issue" for the
# user (its job stays ISSUED).  For each round, proves that:
#  - the kill came at the failpoint (exit 137, its line), the job is left
#    ISSUED, both old keys are still in the keystore, the store records no
#    archive file for them; archive-after-bundle left a bundle and no
#    archive file; archive-after-file left the file with its bundle beside;
#  - at every moment (after the crash, after the resumption) every archive
#    file opens, with the password the officer reads from the bundle beside
#    it (openssl cms -decrypt, asn1parse) or with the archive password file;
#  - the resumption exits 0; both old keys are archived and recorded, their
#    keystore copies gone; the file archive-after-file left is kept byte for
#    byte (adopted, not rewritten), the bundle archive-after-bundle left is
#    replaced by the one whose password opens the new file; the store's
#    bundle is the one beside the file; the mail sent before the reissue
#    decrypts with the key the officer recovers; no temporary file is left.
# Then the modes switched between a crash and its resumption:
#  - recovery agents killed after the bundle, resumed under the password
#    file: the file is under the password file, the stale bundle is gone,
#    the store says password-file;
#  - recovery agents killed after the files (the step writes both keys'
#    files together), resumed under the password file: both files are
#    adopted with their bundles (the store says recovery-agents) and still
#    open with the officer's password;
#  - password file killed after the file, resumed with recovery agents
#    alone: the resumption refuses to guess (exit 70, a line naming the
#    file), the key stays in the keystore; with the password file set again
#    it adopts the file as password-file.
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need openssl sqlite3 cmp sha256sum
if ! grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	echo "SKIP: $CS_BUILDDIR was not configured with --enable-failpoints"
	exit 77
fi
unset CERTSYNC_FAILPOINT
CS_KEY_TYPE=ec:P-256
cs_setup
OFF=$T/officers
mkdir -p "$T/kra" "$OFF"
cp "$CONF" "$T/base.conf"
cp "$T/archive.pass" "$T/keystore.pass"
openssl req -x509 -nodes -newkey rsa:2048 -subj "/CN=alice (recovery agent)" -days 30 \
    -keyout "$OFF/alice.key" -out "$T/kra/alice.pem" 2>/dev/null
openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -subj "/CN=carol (recovery agent)" -days 30 \
    -keyout "$OFF/carol.key" -out "$T/kra/carol.pem" 2>/dev/null

# conf MODE: kra (agents only), pw (password file only), both.
conf() {
	awk -v m="$1" '/^password_file = / && m == "kra" { next }
	    { print }
	    /^\[archive\]$/ && m != "pw" { print "recovery_agents = kra/*.pem" }
	    /^\[keystore\]$/ { print "password_file = keystore.pass" }' \
	    "$T/base.conf" > "$CONF"
}
mode_is() { m=$(stat -c %a "$1") && echo "$1: $m" && [ "$m" = "$2" ]; }
# officer_pw FILE.kra OUT: what alice does: her envelope out of the bundle
# (the SEQUENCE after her fingerprint, openssl asn1parse), decrypted, the
# password read off the share.
officer_pw() {
	fp=$(openssl x509 -in "$T/kra/alice.pem" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g')
	off=$(openssl asn1parse -inform DER -in "$1" |
	    awk -v fp="$fp" 'hit { sub(/:.*/, ""); print $1; exit }
	        index($0, "[HEX DUMP]:" fp) { hit = 1 }')
	[ -n "$off" ] &&
	openssl asn1parse -inform DER -in "$1" -strparse "$off" -noout \
	    -out "$OFF/own.cms" &&
	openssl cms -decrypt -inform DER -in "$OFF/own.cms" -inkey "$OFF/alice.key" \
	    -recip "$T/kra/alice.pem" -out "$OFF/own.der" &&
	openssl asn1parse -inform DER -in "$OFF/own.der" | tail -n 1 |
	    sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p' > "$2" && [ -s "$2" ]
}
# Every archive file opens: with its bundle's password, or the archive's.
all_open() {
	n=0
	for f in "$T"/archive/*.p12; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		if [ -e "$f.kra" ] && officer_pw "$f.kra" "$OFF/pw" &&
		    openssl pkcs12 -in "$f" -passin "file:$OFF/pw" -noout; then
			echo "$f: opens with the officer's password"
		elif openssl pkcs12 -in "$f" -passin "file:$T/archive.pass" -noout; then
			echo "$f: opens with the archive password"
		else
			echo "$f: OPENS WITH NEITHER"; return 1
		fi
	done
	echo "$n archive file(s)"
}
store_col() { # SERIAL COLUMN
	sqlite3 "$T/state/state.db" "SELECT coalesce($2, '-') FROM certificates_text
	    WHERE serial = '$1'"
}
hexfile() { od -An -v -tx1 "$1" | tr -d ' \n' | tr a-f A-F; }
store_bundle_is_file() { # SERIAL FILE.kra
	[ "$(store_col "$1" "hex(archive_bundle)")" = "$(hexfile "$2")" ]
}
job_issued() { "$CTL" -c "$CONF" status | grep -Eq '^ +ISSUED +1$'; }
no_tmp() { ! ls "$T"/archive/*.tmp.* 2>/dev/null; }

# round NAME FAILPOINT CRASH-MODE RESUME-MODE: a user enrolled, a message to
# them, a reissue killed at FAILPOINT, then resumed.  Sets U, E0, S0, F.
round() {
	U=$1 fp=$2
	conf "$3"
	"$CTL" -c "$CONF" issue "$U@example.test" --user "$U" >/dev/null
	E0=$(cs_serial encryption "$U@example.test")
	S0=$(cs_serial signing "$U@example.test")
	cs_cert_pem encryption "$U@example.test" > "$OFF/$U.pem"
	printf 'to %s before the crash\n' "$U" > "$OFF/$U.txt"
	openssl cms -encrypt -aes256 -binary -in "$OFF/$U.txt" -out "$OFF/$U.p7m" "$OFF/$U.pem"
	check_exit 137 "[$U] reissue killed at $fp ($3)" env CERTSYNC_FAILPOINT="$fp" \
	    "$CTL" -c "$CONF" issue "$U.moved@example.test" --user "$U"
	last_says "failpoint $fp: exiting as if killed" "[$U] it was the failpoint"
	check "[$U] the job is left ISSUED" job_issued
	for s in "$S0" "$E0"; do
		check "[$U] $s: no archive file recorded" test "$(store_col "$s" archive_path)" = -
	done
	check "[$U] both old keys are still in the keystore" test -e \
	    "$T/keystore/signing-$S0.p12" -a -e "$T/keystore/encryption-$E0.p12"
	F=$T/archive/signing-$S0.p12	# the first key the step archives
	check "[$U] after the crash every archive file opens" all_open
}
resume() { # MODE
	conf "$1"
	check_exit 0 "[$U] the next issue resumes the job ($1)" \
	    "$CTL" -c "$CONF" issue "$U.moved@example.test" --user "$U"
	check "[$U] the job is done" sh -c '! "$1" -c "$2" status | grep -Eq "^ +ISSUED +1$"' \
	    sh "$CTL" "$CONF"
	for k in signing:$S0 encryption:$E0; do
		check "[$U] ${k%%:*} key archived, recorded, out of the keystore" sh -c \
		    'test -s "$1" && test ! -e "$2" && test "$3" = "$1"' sh \
		    "$T/archive/${k%%:*}-${k#*:}.p12" "$T/keystore/${k%%:*}-${k#*:}.p12" \
		    "$(store_col "${k#*:}" archive_path)"
	done
	check "[$U] every archive file opens" all_open
	check "[$U] no temporary file is left in the archive" no_tmp
}
recovered_decrypts() { # the officer's password opens the encryption file; its key decrypts
	officer_pw "$T/archive/encryption-$E0.p12.kra" "$OFF/e.pw" &&
	openssl pkcs12 -in "$T/archive/encryption-$E0.p12" -passin "file:$OFF/e.pw" \
	    -nodes -nocerts -out "$OFF/e.key" &&
	openssl cms -decrypt -binary -in "$OFF/$U.p7m" -inkey "$OFF/e.key" -out "$OFF/$U.out" &&
	cmp "$OFF/$U.txt" "$OFF/$U.out"
}

echo "# archive-after-bundle, recovery agents throughout"
round u1 archive-after-bundle kra
check "[u1] a bundle and no archive file" test -s "$F.kra" -a ! -e "$F"
cp "$F.kra" "$T/u1.stale"
resume kra
check "[u1] the stale bundle was replaced" sh -c '! cmp -s "$1" "$2"' sh "$F.kra" "$T/u1.stale"
check "[u1] the store's bundle is the one beside the file" store_bundle_is_file "$S0" "$F.kra"
check "[u1] the store says recovery-agents" test "$(store_col "$S0" archive_protection)" = recovery-agents
check "[u1] the officer's key decrypts the mail sent before" recovered_decrypts

echo "# archive-after-file, recovery agents throughout"
round u2 archive-after-file kra
check "[u2] the file with its bundle beside it" test -s "$F" -a -s "$F.kra"
check "[u2] the file is mode 600, so is the bundle" sh -c 'mode_is() { [ "$(stat -c %a "$1")" = 600 ]; }; mode_is "$1" && mode_is "$1.kra"' sh "$F"
sha256sum "$F" "$F.kra" > "$T/u2.sums"
resume kra
check "[u2] the file and its bundle were kept byte for byte" sha256sum -c "$T/u2.sums"
check "[u2] the store's bundle is the one beside the file" store_bundle_is_file "$S0" "$F.kra"
check "[u2] the store says recovery-agents" test "$(store_col "$S0" archive_protection)" = recovery-agents
check "[u2] the officer's key decrypts the mail sent before" recovered_decrypts

echo "# modes switched between the crash and its resumption"
round u3 archive-after-bundle kra
resume pw
check "[u3] the file is under the archive password" \
    openssl pkcs12 -in "$F" -passin "file:$T/archive.pass" -noout
check "[u3] the stale bundle is gone" test ! -e "$F.kra"
check "[u3] the store says password-file" test "$(store_col "$S0" archive_protection)" = password-file
check "[u3] and has no bundle" test "$(store_col "$S0" "archive_bundle IS NULL")" = 1

round u4 archive-after-file kra
sha256sum "$F" "$F.kra" > "$T/u4.sums"
resume pw
check "[u4] the file and bundle were kept" sha256sum -c "$T/u4.sums"
check "[u4] the store says recovery-agents (the bundle opens it)" \
    test "$(store_col "$S0" archive_protection)" = recovery-agents
check "[u4] the store's bundle is the one beside the file" store_bundle_is_file "$S0" "$F.kra"
# The step writes its files together (one flush): the encryption key's
# file was written before the kill too, and is adopted the same way.
check "[u4] the encryption key's file, written with it, is adopted too (recovery-agents)" \
    test "$(store_col "$E0" archive_protection)" = recovery-agents
check "[u4] ... with the bundle beside it" \
    store_bundle_is_file "$E0" "$T/archive/encryption-$E0.p12.kra"

round u5 archive-after-file pw
check "[u5] the file, no bundle" test -s "$F" -a ! -e "$F.kra"
sha256sum "$F" > "$T/u5.sums"
conf kra
check_exit 70 "[u5] recovery agents alone cannot tell how the file is protected" \
    "$CTL" -c "$CONF" issue u5.moved@example.test --user u5
last_says "$F exists, but no recovery-agent bundle for it lies beside it" \
    "[u5] the line names the file and why"
last_says 'stopped at ISSUED.*it is kept, and the next issue for this user' \
    "[u5] the job is kept, to resume"
check "[u5] the key stays in the keystore" test -e "$T/keystore/signing-$S0.p12"
check "[u5] nothing is recorded" test "$(store_col "$S0" archive_path)" = -
check "[u5] ... ISSUED" job_issued
resume both
check "[u5] the file was kept" sha256sum -c "$T/u5.sums"
check "[u5] the store says password-file" test "$(store_col "$S0" archive_protection)" = password-file
two_active() {
	"$CTL" -c "$CONF" list --active | grep -c ' u5.moved@example.test$' > "$T/n"
	cat "$T/n"; [ "$(cat "$T/n")" -eq 2 ]
}
check "[u5] exactly 2 active certificates: the resumption issued nothing more" two_active
cs_done
