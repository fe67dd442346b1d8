#!/bin/sh
# ctl_errors.sh - certsyncctl's command-line and configuration errors.
#
# Proves that each mistake gets its sysexits(3) code and one clear line on
# stderr (nothing on stdout) that names what is wrong: no command and
# unknown command (64), issue without an address (64), malformed addresses
# as primary or alias (65, naming the address), a name the profile refuses
# (65: 65 characters, a TAB), an argument holding a line feed (65, one line,
# the LF printed as \x0a), revoke without or with a
# bad --reason (64, the latter listing every reason), show of an unknown
# serial or address (66), init-ca over an existing CA (73, CA untouched), a
# missing configuration file (78), an unknown key, section or bad value
# (78, naming file, [section] and key), an archive password file of mode
# 0644 or a CA key of mode 0640 (78, naming file and mode, nothing issued);
# that "--help" on the program and on every command exits 0 with a usage
# line on stdout, even without a configuration file; and that no output
# captured here, verbose runs included, contains the archive password.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need grep wc cmp
cs_setup
ALL="$T/all-output"; : > "$ALL"

# run ARGS...: certsyncctl with stdout to $T/o, stderr to $T/e; returns its
# exit status.  Both are kept in $ALL and echoed for last.out.
run() {
	rc=0
	"$CTL" "$@" >"$T/o" 2>"$T/e" || rc=$?
	cat "$T/o" "$T/e" >> "$ALL"
	cat "$T/o" "$T/e"
	return $rc
}

# err CODE "what" REGEX ARGS...: exit CODE, stdout empty, exactly one line on
# stderr, matching REGEX.
err() {
	code=$1 what=$2 re=$3; shift 3
	check_exit "$code" "$what" run "$@"
	CS_CHECKS=$((CS_CHECKS + 1))
	nerr=$(wc -l < "$T/e") nout=$(wc -c < "$T/o")
	if [ "$nerr" -eq 1 ] && [ "$nout" -eq 0 ] && grep -Eq -- "$re" "$T/e"; then
		echo "ok   - ... one line on stderr matching /$re/"
	else
		echo "FAIL - ... wanted one stderr line matching /$re/ and no stdout;" \
		    "got $nerr stderr line(s), $nout stdout byte(s):"
		sed 's/^/       /' "$T/o" "$T/e"
		CS_FAILS=$((CS_FAILS + 1))
	fi
}


# ---- command line ---------------------------------------------------------------
check_exit 64 "no command" run -c "$CONF"
last_says '^usage: certsyncctl' "no command: prints the usage"
err 64 "unknown command" 'unknown command "frobnicate"' -c "$CONF" frobnicate
err 64 "issue without an address" 'issue: .*EMAIL' -c "$CONF" issue
for bad in "not an address" "a@b@c" "alice@-bad-.test" "@example.test" "alice@"; do
	err 65 "issue '$bad'" "\"$bad\"" -c "$CONF" issue "$bad"
done
err 65 "a bad --alias" '"x@-bad-\.test"' -c "$CONF" issue ok@example.test --alias "x@-bad-.test"
# What the profile refuses is refused before anything is signed, and what
# the command line carries is printed escaped: one line, whatever it holds.
err 65 "issue --name of 65 characters" 'ok@example\.test cannot be certified: subject CN would be 65 characters long; RFC 5280 allows at most 64' \
    -c "$CONF" issue ok@example.test --name "$(printf '%065d' 0)"
err 65 "issue --name of 33 e-acute and 32 more" 'subject CN would be 65 characters' \
    -c "$CONF" issue ok@example.test --name "$(printf '\303\251%.0s' $(seq 33))$(printf '%032d' 0)"
err 65 "issue --name with a TAB" 'subject CN contains a control character \(TAB\) at position 4' \
    -c "$CONF" issue ok@example.test --name "$(printf 'Bad\tName')"
err 65 "an address with a line feed: one line, the LF escaped" \
    '"forged\\x0acertsyncctl: error: x@example\.test" contains a control character' \
    -c "$CONF" issue "$(printf 'forged\ncertsyncctl: error: x@example.test')"
check "nothing was issued for ok@example.test" \
    sh -c '! "$1" -c "$2" list | grep -q ok@example.test' sh "$CTL" "$CONF"

check "issue bob@example.test" run -c "$CONF" issue bob@example.test
serial=$(cs_serial encryption bob@example.test)
err 64 "revoke without --reason" 'revoke: .*--reason' -c "$CONF" revoke "$serial"
err 64 "revoke with a bad --reason" '"bogus"' -c "$CONF" revoke "$serial" --reason bogus
for r in unspecified keyCompromise affiliationChanged superseded \
    cessationOfOperation privilegeWithdrawn; do
	last_says "$r" "... the message lists $r"
done
check "bob's certificate is still active" \
    sh -c '"$1" -c "$2" show "$3" | grep -Eq "^Status: +active"' sh "$CTL" "$CONF" "$serial"
err 66 "show an unknown serial" '00C0FFEE' -c "$CONF" show 00C0FFEE
err 66 "show an unknown address" 'nobody@example\.test' -c "$CONF" show nobody@example.test
err 64 "show something that is neither" '"zz"' -c "$CONF" show zz
err 66 "revoke an unknown serial" '00C0FFEE' -c "$CONF" revoke 00C0FFEE --reason keyCompromise
err 64 "recover without --out" 'recover: .*--out' -c "$CONF" recover bob@example.test

cp "$T/ca/ca.key" "$T/ca.key.before"; cp "$T/ca/ca.crt" "$T/ca.crt.before"
err 73 "init-ca a second time" 'ca\.(key|crt).*(refus|exist)' -c "$CONF" init-ca
check "the CA key is untouched" cmp "$T/ca/ca.key" "$T/ca.key.before"
check "the CA certificate is untouched" cmp "$T/ca/ca.crt" "$T/ca.crt.before"

# ---- configuration ---------------------------------------------------------------
err 78 "missing configuration file" "$T/nonexistent\\.conf" -c "$T/nonexistent.conf" list
# bad_conf NAME TEXT: $CONF plus TEXT, as $T/NAME.conf
bad_conf() { cp "$CONF" "$T/$1.conf"; printf '%b' "$2" >> "$T/$1.conf"; }
bad_conf unknown_key '[archive]\nfrobs = 1\n'
err 78 "unknown key" 'unknown_key\.conf.*\[archive\].*frobs' -c "$T/unknown_key.conf" list
err 78 "unknown key stops issue too" 'unknown_key\.conf.*\[archive\].*frobs' \
    -c "$T/unknown_key.conf" issue carol@example.test
bad_conf unknown_section '[nosuch]\nkey = 1\n'
err 78 "unknown section" 'unknown_section\.conf.*\[nosuch\]' -c "$T/unknown_section.conf" list
bad_conf bad_value '[certificates]\nmode = triple\n'
err 78 "bad value" 'bad_value\.conf.*\[certificates\].*mode.*triple' \
    -c "$T/bad_value.conf" list

chmod 644 "$T/archive.pass"
err 78 "issue with archive.pass mode 0644" "archive\\.pass.*0?644" -c "$CONF" issue carol@example.test
chmod 600 "$T/archive.pass"
check "nothing was issued for carol" \
    sh -c '! "$1" -c "$2" list | grep -q carol@' sh "$CTL" "$CONF"
chmod 640 "$T/ca/ca.key"
err 78 "issue with the CA key mode 0640" "ca\\.key.*0?640" -c "$CONF" issue carol@example.test
chmod 600 "$T/ca/ca.key"
check "nothing was issued for carol" \
    sh -c '! "$1" -c "$2" list | grep -q carol@' sh "$CTL" "$CONF"
check "with the modes fixed, issue works" run -c "$CONF" issue carol@example.test

# ---- --help -----------------------------------------------------------------------
check_exit 0 "certsyncctl --help" run --help
last_says '^usage: certsyncctl' "--help prints the usage"
for cmd in init-ca issue list show revoke crl recover audit; do
	check_exit 0 "$cmd --help" run -c "$CONF" "$cmd" --help
	CS_CHECKS=$((CS_CHECKS + 1))
	if grep -q "^usage: certsyncctl $cmd" "$T/o" && [ ! -s "$T/e" ]; then
		echo "ok   - ... usage on stdout, nothing on stderr"
	else
		echo "FAIL - ... $cmd --help: no usage line on stdout, or stderr output"
		sed 's/^/       /' "$T/o" "$T/e"; CS_FAILS=$((CS_FAILS + 1))
	fi
done
check_exit 0 "issue --help without a configuration file" \
    run -c "$T/nonexistent.conf" issue --help

# ---- the archive password is never printed -------------------------------------
s2=$(cs_serial encryption carol@example.test)
printf 'out-pass\n' > "$T/outpw"
check "verbose reissue" run -v -c "$CONF" issue carol.c@example.test --user carol@example.test
check "verbose recover" run -v -c "$CONF" recover "$s2" --out "$T/r.p12" --password-file "$T/outpw"
check "verbose revoke, crl, list, show, audit" sh -c '
    for a in "revoke $3 --reason keyCompromise" "crl" "list" "show $3 --pem" "audit --last 0"; do
        "$1" -v -c "$2" $a || exit 1
    done' sh "$CTL" "$CONF" "$serial"
cat "$T/last.out" >> "$ALL"
pw=$(head -n 1 "$T/archive.pass")
check "captured output is not empty ($(wc -l < "$ALL") lines)" test -s "$ALL"
check "the archive password appears in none of it" sh -c '! grep -qF -- "$1" "$2"' sh "$pw" "$ALL"
cs_done
