#!/bin/sh
# agent_hostile.sh - 300 hostile directory entries among 50 normal users.
#
# Proves that: against a real slapd holding the entries hostile_gen.py
# writes (invalid and overlong addresses, names past RFC 5280's bounds and
# names right at them counted in characters (22 CJK, 33 x e-acute, 64 CJK,
# 64 emoji), control characters (TAB, LF with a forged "certsyncd:" line,
# CR, ESC, DEL, BEL, NUL via base64, C1), bytes that are not UTF-8, bidi
# overrides and invisible characters, right-to-left names, emoji, 2 to 300
# addresses per user, one address claimed by two users, punycode and raw
# UTF-8 domains, upper-case domains, names that look like DN or template
# syntax, and hostile characters in the DN itself), a running certsyncd
# enrolls or skips every user and never stops: each user to be certified
# has its two active certificates naming exactly its addresses (domains in
# lower case), in the directory too; a sample of every category, read with
# the openssl CLI, has the subject CN byte for byte with the expected
# number of characters as a UTF8String and the expected SAN, and verifies
# as S/MIME; each user to be skipped has exactly one log line naming its DN
# (escaped) and a reason matching its fault, no certificate, and is listed
# by "certsyncctl status"; of two users claiming one address, one is
# certified and the other skipped naming the holder; no job is left,
# parked or retried; the log, status, list and plan hold no raw control,
# C1, bidi or invisible character and no stray byte, and every log line is
# certsyncd's own.  A skipped user fixed in the directory is then
# certified, and the agent exits 0 on SIGTERM.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify openssl python3 sqlite3
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
GEN="python3 $CS_SRCDIR/tests/integration/hostile_gen.py"

# Secondary addresses in description (a DirectoryString, so it can hold
# what mail, an IA5String, cannot); the service account may read it, as an
# admin would allow for the alias_attribute they configure.
ldap_config_modify >/dev/null <<EOF
dn: olcDatabase={1}mdb,cn=config
changetype: modify
add: olcAccess
olcAccess: {0}to dn.subtree="$SLAPD_PEOPLE" attrs=description
  by dn.exact="$SLAPD_SVC_DN" read by * break
EOF
cs_agent_conf
cat >> "$CONF" <<CONF
display_name_attribute = cn
alias_attribute = description
[certificates]
subject = CN=%{name},O=Example Test
CONF

echo "# the directory: 300 hostile users, 50 normal ones"
$GEN ldif "$SLAPD_PEOPLE" "$T" >"$T/gen.out"
check "hostile_gen.py: $(cat "$T/gen.out")" grep -q '^350 users (300 hostile' "$T/gen.out"
check "slapd takes all 350 entries" ldap_admin_modify -f "$T/users.ldif"
LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" \
    -y "$SLAPD_ADMIN_PW_FILE" -b "$SLAPD_PEOPLE" '(objectClass=inetOrgPerson)' \
    uid >"$T/dns.ldif"
WANT=$($GEN enrolled "$T")

settled() {
	grep -q 'refresh complete' "$T/agent.log" &&
	    ctl status >"$T/status" && grep -Eq '^ +queued +0$' "$T/status" &&
	    [ "$(ctl list --active | awk 'NR > 1' | wc -l)" -eq $((2 * WANT)) ]
}

echo "# certsyncd: the refresh, then every job"
START=$(date +%s)
cs_agent_start
check "every job done: $WANT users with 2 active certificates each" cs_wait_for 90 settled
echo "# settled in $(( $(date +%s) - START )) s"
check "the agent still runs" kill -0 "$AGENT_PID"
ctl status >"$T/status"
ctl list --active >"$T/list"
ctl plan >"$T/plan" 2>"$T/plan.err"
cp "$T/agent.log" "$T/pass1.log"
echo "# every user as expected, the printed text escaped (hostile_gen.py check)"
$GEN check "$T" "$T/dns.ldif" "$T/pass1.log" "$T/status" "$T/list" >"$T/gen.check" || :
cat "$T/gen.check"
grep -q '^# [0-9]* checks' "$T/gen.check" || CS_FAILS=$((CS_FAILS + 1))
n_ok=$(grep -c '^ok   - ' "$T/gen.check" || :)
n_fail=$(grep -c '^FAIL - ' "$T/gen.check" || :)
CS_CHECKS=$((CS_CHECKS + n_ok + n_fail))
CS_FAILS=$((CS_FAILS + n_fail))
check "plan (a dry run) holds no raw character" $GEN raw "$T/plan"
check "plan: nothing to do, every bad user skipped again" \
    grep -q "^0 to do, $(( 350 - WANT )) skipped, $WANT up to date$" "$T/plan"
check "no job left, none parked" sh -c "grep -Eq '^ +queued +0$' '$T/status' &&
    sed -n '/^failed jobs/,/^skipped users/p' '$T/status' | grep -qx '  none'"
check "no job was retried or parked" sh -c "! grep -Eq 'retried in|parked' '$T/pass1.log'"
check "nothing failed" sh -c "! grep -Eq 'certsyncd: error:' '$T/pass1.log'"
in_dir() {
	LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" \
	    -y "$SLAPD_ADMIN_PW_FILE" -b "$SLAPD_PEOPLE" '(userCertificate=*)' 1.1 |
	    grep -c '^dn'
}
check "the directory holds certificates for exactly those $WANT users" \
    test "$(in_dir)" -eq "$WANT"

# sample KEY: the user's signing certificate, read with the openssl CLI, has
# the expected CN (bytes, characters, UTF8String), SAN and purpose.
exp() { $GEN expect "$T" "$1" "$2"; }
sample() {
	primary=$(exp "$1" primary)
	cs_cert_pem signing "$primary" >"$T/s.pem" || return 1
	openssl x509 -in "$T/s.pem" -noout -subject -nameopt multiline,-esc_msb,-esc_ctrl,utf8 |
	    sed -n 's/^ *commonName *= //p' >"$T/s.cn"
	exp "$1" subject >"$T/s.want"
	echo "CN: $(cat "$T/s.cn")"; echo "expected: $(cat "$T/s.want")"
	cmp -s "$T/s.cn" "$T/s.want" || return 1
	chars=$(python3 -c 'import sys; print(len(open(sys.argv[1], "rb").read().decode().rstrip("\n")))' "$T/s.cn")
	[ "$chars" -eq "$(exp "$1" cn_chars)" ] || { echo "$chars characters"; return 1; }
	openssl asn1parse -in "$T/s.pem" | grep -A1 ':commonName' | grep -q 'UTF8STRING' ||
	    { echo "CN is not a UTF8String"; return 1; }
	openssl x509 -in "$T/s.pem" -noout -ext subjectAltName | sed 1d |
	    tr ',' '\n' | sed 's/^ *email://' | sort >"$T/s.san"
	exp "$1" san | sort >"$T/s.sanwant"
	echo "SAN: $(wc -l <"$T/s.san") names"
	cmp -s "$T/s.san" "$T/s.sanwant" || { diff "$T/s.sanwant" "$T/s.san" | head; return 1; }
	openssl verify -CAfile "$T/ca/ca.crt" -purpose smimesign "$T/s.pem"
}
for k in normal00 maxname00 maxname01 maxname03 maxname04 maxname05 maxname06 \
    emoji01 emoji03 emoji02 rtl02 rtl03 many05 many07 puny00 UpPer00 UpPer02 \
    odd00 odd01 odd02 odd03 dn01; do
	check "sample $k: CN, its length in characters, SAN, S/MIME purpose" sample "$k"
done

echo "# the store keeps the raw value; printing escapes it"
RTL=$(exp rtl02 primary)
ctl show "$RTL" >"$T/show"
check "show: the subject's right-to-left mark printed as \\u200f" \
    grep -qF 'Subject:       CN=Dana' "$T/show"
check "show: ... as an escape, never raw" sh -c "grep -qF '\\u200f 2' '$T/show' &&
    $GEN raw '$T/show'"
ctl audit --last 0 >"$T/audit"
check "audit: escaped too" sh -c "grep -qF '\\u200f 2' '$T/audit' && $GEN raw '$T/audit'"
check "the audit trail in the store holds the raw mark" test "$(sqlite3 \
    "$T/state/state.db" "SELECT count(*) FROM audit WHERE instr(detail, char(8207)) > 0")" -gt 0

echo "# fixed in the directory, a skipped user is certified"
printf 'dn: uid=longname00,%s\nchangetype: modify\nreplace: cn\ncn: %s\n' \
    "$SLAPD_PEOPLE" "$(head -c 64 /dev/zero | tr '\0' 'a')" | ldap_admin_modify >/dev/null
printf 'dn: uid=ctrl00,%s\nchangetype: modify\nreplace: cn\ncn: Fixed Control\n' \
    "$SLAPD_PEOPLE" | ldap_admin_modify >/dev/null
fixed() { [ "$(ctl list --active | awk 'NR > 1' | wc -l)" -eq $((2 * WANT + 4)) ]; }
check "both fixed users are certified" cs_wait_for 30 fixed
check "and no longer listed as skipped" sh -c "! '$CTL' -c '$CONF' status |
    grep -E '^  uid=(longname00|ctrl00),'"
check "the agent still runs" kill -0 "$AGENT_PID"
kill "$AGENT_PID"
set +e; wait "$AGENT_PID"; rc=$?; set -e
AGENT_PID=
check "SIGTERM: the agent exits 0" test "$rc" -eq 0
cs_done
