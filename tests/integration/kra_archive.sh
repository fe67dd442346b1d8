#!/bin/sh
# kra_archive.sh - archive files under key recovery agents: officers open
# them with standard tools, the host cannot.
#
# Three officers (alice RSA-2048, bob RSA-2048, carol EC P-256) whose keys
# live in officers/ (their machines, not the host), their certificates in
# kra/.  Keys are archived by "certsyncctl issue" reissues (the job the
# daemon runs).  Proves that:
#  - with [archive] recovery_agents set (no archive password file), a
#    reissue archives the old keys as PKCS#12 files (mode 600) with a
#    bundle beside each (mode 600) that is byte for byte the store's copy;
#    the store and "show" say recovery-agents; the files use 1000 PBKDF2
#    and MAC iterations (openssl pkcs12 -info);
#  - 1 of 3: "recover --out DIR" writes the officers' packet (one envelope
#    per officer, named after them, a copy of the file, README.txt) and
#    prints the openssl command; each officer alone opens their envelope
#    with openssl cms -decrypt and reads the password off openssl
#    asn1parse; openssl pkcs12 and NSS pk12util open the archive file with
#    it (a wrong one does not); mail encrypted to the superseded
#    certificate before the reissue decrypts with the key inside;
#    "recover --agent-key" with carol's key (its certificate found among the
#    configured agents) hands the key out under a new password; a key that
#    is no agent's, and an agent key file of mode 644, are refused;
#  - 2 of 3: every pair of officers rebuilds the password (recover
#    --combine, and --password-out: a new file, mode 600) and it opens the
#    file; one share alone is refused by --combine, and its share bytes do
#    not open the file; shares of two different files are refused; one
#    --agent-key is refused, two open the key, which decrypts the old mail;
#  - the host cannot open its own archive: no file on it (state store and
#    its sqlite3 .dump, archive, keystore, configuration, CA, CRL, agent
#    certificates, packets, everything certsyncctl printed with -v) holds
#    any archive password, as text (any case), as raw bytes or as UTF-16;
#    and every line, field and printable string of those files, tried with
#    openssl pkcs12 -passin on every archive file, opens none (while the
#    officers' password does, through the same function);
#  - switching to the password file: the next reissue's file is under it
#    (no bundle), the earlier files stay byte for byte; recover opens each
#    file its own way: the old ones with --agent-key (and --agent-cert,
#    as the agents are no longer configured), the new one with the password
#    file; --password-file alone on a recovery-agent file is refused with
#    a line that says what to do;
#  - the audit trail names each recovery with who asked (the unix user).
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need openssl pk12util certutil sqlite3 python3 cmp stat id
CS_KEY_TYPE=ec:P-256
cs_setup
OFF=$T/officers
HOSTLOG=$T/host.log
mkdir -p "$T/kra" "$OFF"
cp "$CONF" "$T/base.conf"
cp "$T/archive.pass" "$T/keystore.pass"

# agent NAME NEWKEY-ARGS...: key in officers/, certificate in kra/.
agent() {
	n=$1; shift
	openssl req -x509 -nodes -newkey "$@" -subj "/CN=$n (recovery agent)" \
	    -days 30 -keyout "$OFF/$n.key" -out "$T/kra/$n.pem" 2>/dev/null
}
check "openssl makes alice (RSA-2048)" agent alice rsa:2048
check "openssl makes bob (RSA-2048)" agent bob rsa:2048
check "openssl makes carol (EC P-256)" agent carol ec -pkeyopt ec_paramgen_curve:P-256
openssl req -x509 -nodes -newkey rsa:2048 -subj "/CN=mallory" -days 30 \
    -keyout "$OFF/mallory.key" -out "$OFF/mallory.pem" 2>/dev/null

# conf_kra QUORUM: recovery agents, no archive password file.
conf_kra() {
	awk -v q="$1" '/^password_file = / { next }
	    { print }
	    /^\[archive\]$/ { print "recovery_agents = kra/*.pem"; print "recovery_quorum = " q }
	    /^\[keystore\]$/ { print "password_file = keystore.pass" }' \
	    "$T/base.conf" > "$CONF"
}
# conf_pw: the archive password file, no agents.
conf_pw() {
	awk '{ print } /^\[keystore\]$/ { print "password_file = keystore.pass" }' \
	    "$T/base.conf" > "$CONF"
}
# host: certsyncctl as the admin runs it on the host; all it says (with -v)
# goes to the host's log, which the host test searches.
host() {
	h_rc=0
	"$CTL" -v -c "$CONF" "$@" > "$T/host.out" 2>&1 || h_rc=$?
	cat "$T/host.out" >> "$HOSTLOG"; cat "$T/host.out"; return $h_rc
}
mode_is() { m=$(stat -c %a "$1") && echo "$1: $m" && [ "$m" = "$2" ]; }
enc() { # ADDRESS MSGNAME: a message encrypted to ADDRESS's encryption certificate
	cs_cert_pem encryption "$1" > "$OFF/$2.pem" &&
	printf 'Subject: %s\n\nfor %s, before the reissue\n' "$2" "$1" > "$OFF/$2.txt" &&
	openssl cms -encrypt -aes256 -binary -in "$OFF/$2.txt" -out "$OFF/$2.p7m" "$OFF/$2.pem"
}
# decrypts KEYPEM MSGNAME
decrypts() {
	openssl cms -decrypt -binary -in "$OFF/$2.p7m" -inkey "$1" -out "$OFF/$2.out" &&
	cmp "$OFF/$2.txt" "$OFF/$2.out"
}
# p12_key P12 PASSFILE OUTKEY
p12_key() { openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts -out "$3"; }
hexfile() { od -An -v -tx1 "$1" | tr -d ' \n' | tr a-f A-F; }

# ---- 1 of 3 --------------------------------------------------------------------
conf_kra 1
check_exit 0 "issue alice@example.test (recovery agents, 1 of 3)" \
    host issue alice@example.test --user alice
check "a message to alice's encryption certificate" enc alice@example.test m1
e1=$(cs_serial encryption alice@example.test)
s1=$(cs_serial signing alice@example.test)
check_exit 0 "reissue as alice.smith@example.test" \
    host issue alice.smith@example.test --user alice
A1=$T/archive/encryption-$e1.p12
check "the old encryption key is archived, mode 600" mode_is "$A1" 600
check "its bundle lies beside it, mode 600" mode_is "$A1.kra" 600
check "the signing key too, with its bundle" test -s "$T/archive/signing-$s1.p12.kra"
store_is() { # SERIAL PROTECTION
	sqlite3 "$T/state/state.db" "SELECT archive_protection FROM certificates_text
	    WHERE serial = '$1'" | tee "$T/prot"; [ "$(cat "$T/prot")" = "$2" ]
}
check "the store records recovery-agents for $e1" store_is "$e1" recovery-agents
same_bundle() { # SERIAL FILE
	sqlite3 "$T/state/state.db" "SELECT hex(archive_bundle) FROM certificates_text
	    WHERE serial = '$1'" > "$T/b.store"
	hexfile "$2" > "$T/b.file"; echo >> "$T/b.file"
	[ -s "$T/b.store" ] && cmp "$T/b.store" "$T/b.file"
}
check "the store's bundle is the file beside the archive, byte for byte" same_bundle "$e1" "$A1.kra"
check_exit 0 "show $e1" host show "$e1"
last_says '^Protected by: +recovery agents, any 1 of 3' "show says: recovery agents, any 1 of 3"
check "the keystore copy is gone" test ! -e "$T/keystore/encryption-$e1.p12"
check_exit 0 "recover alice@example.test --out pkt1 (the officers' packet)" \
    host recover alice@example.test --out "$T/pkt1"
last_says 'openssl cms -decrypt -inform DER -in share-1-alice-recovery-agent.cms' \
    "it prints the openssl command for the officers"
packet_ok() { # DIR FILE: 3 envelopes named by officer, README.txt, the file
	ls "$1"
	[ "$(ls "$1" | wc -l)" -eq 5 ] && test -s "$1/README.txt" &&
	    cmp "$1/${2##*/}" "$2" && test -s "$1/share-1-alice-recovery-agent.cms" &&
	    test -s "$1/share-2-bob-recovery-agent.cms" &&
	    test -s "$1/share-3-carol-recovery-agent.cms"
}
check "the packet: one envelope per officer, README.txt, a copy of the file" \
    packet_ok "$T/pkt1" "$A1"
check "the packet directory is mode 700" mode_is "$T/pkt1" 700

# officer NAME PACKET OUT: what officer NAME types on their machine.
officer() {
	openssl cms -decrypt -inform DER -in "$2"/share-*-"$1"-recovery-agent.cms \
	    -inkey "$OFF/$1.key" -recip "$T/kra/$1.pem" -out "$3"
}
# asn1_pw SHARE: the hex dump on the last line of openssl asn1parse.
asn1_pw() {
	openssl asn1parse -inform DER -in "$1" | tail -n 1 |
	    sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p'
}
for a in alice bob carol; do
	check "[1 of 3] $a decrypts her/his share with openssl cms" \
	    officer $a "$T/pkt1" "$OFF/p1-$a.der"
	asn1_pw "$OFF/p1-$a.der" > "$OFF/p1-$a.pw"
	check "[1 of 3] $a's password (openssl asn1parse) opens the archive file" \
	    p12_key "$A1" "$OFF/p1-$a.pw" "$OFF/k1-$a.pem"
done
check "the three read the same password" sh -c \
    'cmp "$1/p1-alice.pw" "$1/p1-bob.pw" && cmp "$1/p1-bob.pw" "$1/p1-carol.pw"' sh "$OFF"
check "it is 64 upper-case hex digits" grep -Eqx '[0-9A-F]{64}' "$OFF/p1-alice.pw"
iter1000() { # P12 PASSFILE: MAC and key at 1000 iterations, certificates in plain data
	openssl pkcs12 -in "$1" -passin "file:$2" -noout -info > "$T/info" 2>&1
	cat "$T/info"; [ "$(grep -Ec 'Iteration 1000($|,)' "$T/info")" -eq 2 ] &&
	[ "$(grep -c Iteration "$T/info")" -eq 2 ] && grep -q '^PKCS7 Data' "$T/info" &&
	! grep -q 'PKCS7 Encrypted data' "$T/info"
}
check "MAC and key use 1000 iterations, the (public) certificates are not encrypted" \
    iter1000 "$A1" "$OFF/p1-alice.pw"
check "the recovered key decrypts the mail sent before the reissue" decrypts "$OFF/k1-alice.pem" m1
printf 'wrong\n' > "$OFF/wrong.pw"
check_fails "a wrong password does not open it (openssl)" p12_key "$A1" "$OFF/wrong.pw" "$OFF/x.pem"
n_db=0
opens_nss() { # P12 PASSFILE
	n_db=$((n_db + 1))
	mkdir "$OFF/nss$n_db" && certutil -N -d "sql:$OFF/nss$n_db" --empty-password &&
	pk12util -i "$1" -d "sql:$OFF/nss$n_db" -W "$(head -n 1 "$2")" -K "" </dev/null &&
	certutil -K -d "sql:$OFF/nss$n_db" </dev/null | grep -Eq '^< *0> ec '
}
check "NSS pk12util imports the archive file with the password" opens_nss "$A1" "$OFF/p1-carol.pw"
check_fails "NSS pk12util refuses a wrong password" opens_nss "$A1" "$OFF/wrong.pw"

printf 'user-pass-%s\n' "$$" > "$OFF/user.pass"; chmod 600 "$OFF/user.pass"
check_exit 0 "recover --agent-key carol (EC; her certificate from the configured agents)" \
    host recover "$e1" --out "$OFF/r1.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/carol.key"
check "r1.p12 opens with the user's new password" p12_key "$OFF/r1.p12" "$OFF/user.pass" "$OFF/r1.pem"
check "its key decrypts the old mail" decrypts "$OFF/r1.pem" m1
check_exit 65 "a key that is no agent's is refused" \
    host recover "$e1" --out "$OFF/r1x.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/mallory.key"
last_says 'mallory.key: no configured recovery agent of this archive file has this key' \
    "the line names the key file and the problem"
check_exit 65 "mallory's key with her own certificate is refused too" \
    host recover "$e1" --out "$OFF/r1x.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/mallory.key" --agent-cert "$OFF/mallory.pem"
last_says 'its certificate is not one of this archive file.s recovery agents' "... saying so"
chmod 644 "$OFF/bob.key"
check_fails "an --agent-key file of mode 644 is refused" \
    host recover "$e1" --out "$OFF/r1y.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/bob.key"
last_says 'bob.key.*644' "the line names the file and its mode"
chmod 600 "$OFF/bob.key"
check "nothing was written" test ! -e "$OFF/r1x.p12" -a ! -e "$OFF/r1y.p12"

# ---- 2 of 3 --------------------------------------------------------------------
conf_kra 2
check "a message to alice's second encryption certificate" enc alice.smith@example.test m2
e2=$(cs_serial encryption alice.smith@example.test)
s2=$(cs_serial signing alice.smith@example.test)
check_exit 0 "reissue with a new name (recovery agents, 2 of 3)" \
    host issue alice.smith@example.test --user alice --name "Alice Smith"
A2=$T/archive/encryption-$e2.p12
check_exit 0 "show $e2" host show "$e2"
last_says '^Protected by: +recovery agents, any 2 of 3' "show says: any 2 of 3"
check_exit 0 "recover $e2 --out pkt2" host recover "$e2" --out "$T/pkt2"
last_says 'certsyncctl recover --combine' "it tells the officers to combine"
for a in alice bob carol; do
	check "[2 of 3] $a decrypts her/his share" officer $a "$T/pkt2" "$OFF/p2-$a.der"
	asn1_pw "$OFF/p2-$a.der" > "$OFF/p2-$a.share"
	check_fails "[2 of 3] $a's share bytes alone do not open the file" \
	    p12_key "$A2" "$OFF/p2-$a.share" "$OFF/x.pem"
	check_exit 65 "[2 of 3] recover --combine refuses $a's share alone" \
	    "$CTL" recover --combine "$OFF/p2-$a.der"
	last_says '1 share given, 2 needed' "... saying 2 are needed"
done
for pair in alice:bob alice:carol bob:carol; do
	x=${pair%:*} y=${pair#*:}
	check_exit 0 "[2 of 3] $x and $y: recover --combine (no configuration)" \
	    sh -c '"$1" recover --combine "$2" "$3" > "$4"' sh "$CTL" \
	    "$OFF/p2-$x.der" "$OFF/p2-$y.der" "$OFF/p2-$x-$y.pw"
	check "[2 of 3] $x and $y's password opens the archive file" \
	    p12_key "$A2" "$OFF/p2-$x-$y.pw" "$OFF/k2-$x-$y.pem"
done
check "every pair finds the same password" sh -c \
    'cmp "$1/p2-alice-bob.pw" "$1/p2-bob-carol.pw" && cmp "$1/p2-alice-bob.pw" "$1/p2-alice-carol.pw"' sh "$OFF"
check "it is not the 1-of-3 file's password" sh -c '! cmp -s "$1/p2-alice-bob.pw" "$1/p1-alice.pw"' sh "$OFF"
check "the key decrypts the mail sent to $e2" decrypts "$OFF/k2-alice-bob.pem" m2
check_exit 0 "--combine --password-out writes a new file" \
    "$CTL" recover --combine "$OFF/p2-carol.der" "$OFF/p2-alice.der" --password-out "$OFF/pw-out"
check "... mode 600, holding the password" sh -c \
    '[ "$(stat -c %a "$1")" = 600 ] && cmp "$1" "$2"' sh "$OFF/pw-out" "$OFF/p2-alice-bob.pw"
check_exit 73 "--password-out never overwrites" \
    "$CTL" recover --combine "$OFF/p2-carol.der" "$OFF/p2-alice.der" --password-out "$OFF/pw-out"
check_exit 65 "shares of two different files are refused" \
    "$CTL" recover --combine "$OFF/p2-alice.der" "$OFF/p1-bob.der"
last_says 'different secret' "... as another split"
check_exit 65 "recover --agent-key with one officer's key is refused" \
    host recover "$e2" --out "$OFF/r2x.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/alice.key"
last_says '1 share given, 2 needed' "... 2 are needed"
check_exit 0 "recover --agent-key alice --agent-key bob (with --agent-cert)" \
    host recover "$e2" --out "$OFF/r2.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/alice.key" --agent-key "$OFF/bob.key" --agent-cert "$T/kra/bob.pem"
check "r2.p12 opens with the user's password" p12_key "$OFF/r2.p12" "$OFF/user.pass" "$OFF/r2.pem"
check "its key decrypts the old mail" decrypts "$OFF/r2.pem" m2
check_exit 0 "the signing keys' packets too" sh -c \
    'host() { "$1" -v -c "$2" recover "$3" --out "$4" && "$1" -v -c "$2" recover "$5" --out "$6"; }
     host "$@" >> "$7" 2>&1' sh "$CTL" "$CONF" "$s1" "$T/pkt-s1" "$s2" "$T/pkt-s2" "$HOSTLOG"
officer carol "$T/pkt-s1" "$OFF/ps1.der" && asn1_pw "$OFF/ps1.der" > "$OFF/ps1.pw"
officer alice "$T/pkt-s2" "$OFF/ps2a.der" && officer bob "$T/pkt-s2" "$OFF/ps2b.der" &&
    "$CTL" recover --combine "$OFF/ps2a.der" "$OFF/ps2b.der" > "$OFF/ps2.pw"
check "the officers open the signing keys' files" sh -c \
    'openssl pkcs12 -in "$1" -passin "file:$2" -noout && openssl pkcs12 -in "$3" -passin "file:$4" -noout' \
    sh "$T/archive/signing-$s1.p12" "$OFF/ps1.pw" "$T/archive/signing-$s2.p12" "$OFF/ps2.pw"
check_exit 0 "audit" host audit --last 0
last_says "recover +alice +$e1 .*recovery-agent shares .* asked by $(id -un)" \
    "the audit trail: the packet for $e1, and who asked"
last_says "recover +alice +$e2 .*recovery agents: CN=alice .*; CN=bob .*asked by $(id -un)" \
    "the audit trail: $e2 opened by alice and bob, and who asked"

# ---- the host cannot open its own archive ---------------------------------------
sqlite3 "$T/state/state.db" .dump > "$T/state.dump"
KRA_FILES="$A1 $T/archive/signing-$s1.p12 $A2 $T/archive/signing-$s2.p12"
for f in $KRA_FILES; do printf '%s\n' "$f"; done > "$T/kra.files"
cat "$OFF/p1-alice.pw" "$OFF/ps1.pw" "$OFF/p2-alice-bob.pw" "$OFF/ps2.pw" > "$OFF/passwords"
# The host: everything but the officers' machines and this test's own files.
find "$T" -type f ! -path "$OFF/*" ! -name last.out ! -name host.out \
    ! -name prot ! -name 'b.*' ! -name info ! -name 'kra.files' \
    ! -name ctl.out | sort > "$T/host.files"
check "the host files include the store, its dump, the archive, the keystore, the log" sh -c '
    for f in state/state.db state.dump certsync.conf keystore.pass host.log pkt1/README.txt; do
        grep -qx "$1/$f" "$2" || { echo "missing: $f"; exit 1; }; done
    grep -q "^$1/archive/.*\.p12\.kra$" "$2" && grep -q "^$1/keystore/.*\.p12$" "$2"' \
    sh "$T" "$T/host.files"
cat > "$T/scan.py" <<'PY'
import sys
# scan.py FILES PASSWORDS: exit 1 if a password is in a file, as text in
# any case, as its raw bytes, or as UTF-16 (PKCS#12's BMPString).
files = open(sys.argv[1]).read().split("\n")
pws = [p for p in open(sys.argv[2]).read().split("\n") if p]
found = 0
for f in filter(None, files):
    data = open(f, "rb").read()
    low = data.lower()
    for p in pws:
        forms = [p.lower().encode(), bytes.fromhex(p), p.encode("utf-16-be"),
                 p.encode("utf-16-le")]
        for form in forms:
            if form in (low if form == p.lower().encode() else data):
                print("%s holds a password (%r...)" % (f, form[:8]))
                found = 1
print("%d files, %d passwords: %s" % (len(files) - 1, len(pws), "FOUND" if found else "none found"))
sys.exit(found)
PY
check "no host file holds an archive password (text, raw bytes, UTF-16)" \
    python3 "$T/scan.py" "$T/host.files" "$OFF/passwords"
# The scan can see: a copy of a password among the host's files is found.
cp "$OFF/p2-alice-bob.pw" "$T/planted"
finds_planted() {
	{ cat "$T/host.files"; echo "$T/planted"; } > "$T/host.files+"
	! python3 "$T/scan.py" "$T/host.files+" "$OFF/passwords" > "$T/scan.out"
	cat "$T/scan.out"; grep -q "planted holds a password" "$T/scan.out"
}
check "(the scan finds a planted password)" finds_planted
rm -f "$T/planted"
cat > "$T/cands.py" <<'PY'
import re, sys
# cands.py FILES: every line, field and printable string (4+ bytes) of
# every file, one per line, once each; of hex-looking ones (32+ digits, as
# the passwords are) the upper-case form too.
out = set()
for f in filter(None, open(sys.argv[1]).read().split("\n")):
    data = open(f, "rb").read()
    for s in re.findall(rb"[\x20-\x7e]{4,}", data):
        s = s.decode()
        for x in [s, s.strip()] + re.split(r"[\s,|'\"()=:;]+", s):
            if 0 < len(x) <= 512:
                out.add(x)
            if re.fullmatch(r"[0-9a-fA-F]{32,}", x):
                out.add(x.upper())
for x in sorted(out):
    print(x)
PY
python3 "$T/cands.py" "$T/host.files" > "$T/cands"
# opens_any CANDIDATES: succeeds when a candidate opens an archive file.
opens_any() {
	echo "$(wc -l < "$1") candidates, $(wc -l < "$T/kra.files") archive files"
	while IFS= read -r f; do
		while IFS= read -r c; do
			printf '%s\n' "$c" > "$T/cand.pw"
			if openssl pkcs12 -in "$f" -passin "file:$T/cand.pw" -noout 2>/dev/null
			then
				echo "OPENS $f"; return 0
			fi
		done < "$1"
	done < "$T/kra.files"
	return 1
}
wc -l < "$T/cands" > "$T/cands.n"
echo "# $(cat "$T/cands.n") candidate passwords from $(wc -l < "$T/host.files") host files"
check "at least 500 candidates (the dump and the logs are in)" test "$(cat "$T/cands.n")" -ge 500
check_fails "no line, field or string on the host opens any archive file" \
    opens_any "$T/cands"
{ tail -n 20 "$T/cands"; cat "$OFF/p2-alice-bob.pw"; } > "$T/cands.control"
check "(the same loop opens one with the officers' password among 20 others)" \
    opens_any "$T/cands.control"

# ---- switching to the password file ---------------------------------------------
sums() { for f in $KRA_FILES; do sha256sum "$f" "$f.kra"; done; }
sums > "$T/sums.before"
conf_pw
check "a message to alice's third encryption certificate" enc alice.smith@example.test m3
e3=$(cs_serial encryption alice.smith@example.test)
check_exit 0 "reissue under the archive password file" \
    host issue alice.smith@example.test --user alice --name "Alice B. Smith"
A3=$T/archive/encryption-$e3.p12
check "$e3 is archived, mode 600" mode_is "$A3" 600
check "... with no bundle beside it" test ! -e "$A3.kra"
check "the store records password-file for $e3" store_is "$e3" password-file
check "... and still recovery-agents for $e1" store_is "$e1" recovery-agents
unchanged() { sums | cmp - "$T/sums.before" && [ -s "$T/sums.before" ]; }
check "the files archived under recovery agents are unchanged" unchanged
check_exit 0 "show $e3" host show "$e3"
last_says '^Protected by: +the archive password file' "show says: the archive password file"
check "the archive password opens it" p12_key "$A3" "$T/archive.pass" "$OFF/k3.pem"
check_exit 0 "recover $e3 with --password-file, as before" \
    host recover "$e3" --out "$OFF/r3.p12" --password-file "$OFF/user.pass"
check "its key decrypts the mail sent to $e3" sh -c \
    'openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts -out "$3"' sh \
    "$OFF/r3.p12" "$OFF/user.pass" "$OFF/r3.pem"
check "... which decrypts the old mail" decrypts "$OFF/r3.pem" m3
check_exit 64 "recover $e1 with only --password-file is refused" \
    host recover "$e1" --out "$OFF/r4.p12" --password-file "$OFF/user.pass"
last_says 'protected by recovery agents: without --password-file, --out names a directory' \
    "the line says what to do instead"
check_exit 65 "--agent-key without --agent-cert, the agents no longer configured" \
    host recover "$e1" --out "$OFF/r4.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/carol.key"
last_says 'name its certificate with --agent-cert' "the line asks for --agent-cert"
check_exit 0 "recover $e1 with carol's key and certificate" \
    host recover "$e1" --out "$OFF/r4.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/carol.key" --agent-cert "$T/kra/carol.pem"
check "r4.p12 opens" p12_key "$OFF/r4.p12" "$OFF/user.pass" "$OFF/r4.pem"
check "its key decrypts the first mail" decrypts "$OFF/r4.pem" m1
check_exit 64 "--agent-key on a password-file key is refused" \
    host recover "$e3" --out "$OFF/r5.p12" --password-file "$OFF/user.pass" \
    --agent-key "$OFF/carol.key"
last_says 'not by recovery agents: leave out --agent-key' "... saying so"
cs_done
