#!/bin/sh
# agent_crash.sh - certsyncd killed at every step of a reissue loses nothing
# and finishes the job on its next run.
#
# For each failpoint of the job (after-REVOKED, after-KEYS,
# issue-before-record, issue-before-keystore, after-ISSUED, after-ARCHIVED,
# publish-before-record, after-PUBLISHED, after-DONE), against one slapd and
# one store, a new user crashN is enrolled by "certsyncd --once", gets a
# message encrypted to its encryption certificate, and changes its mail.
# "CERTSYNC_FAILPOINT=FP certsyncd --once" must die at exactly that point
# (exit 137, the failpoint's own log line: the point was reached) and leave
# the job in that step's state, and the certificates the CA signed but the
# store does not know (its "sign" audit records without a row): for
# issue-before-record, 2 (signing, encryption), whose key files are the 2
# key files the store does not know; for issue-before-keystore (after the
# sign records, before the key files: a batch signs every certificate of
# its jobs first), 2 (signing, encryption) and no key file; for the
# others, none.  For publish-before-record the directory
# already shows the pending certificates.  Then a plain "certsyncd --once"
# must exit 0 and leave:
#  - the entry's userCertificate values exactly the store's active
#    certificates for the new address (no stale old value, nothing doubled)
#    and one userSMIMECertificate value, the one the store recorded with
#    the certificates when they were issued;
#  - exactly 2 active certificates for the user (signing + encryption, the
#    new address), 2 rows for the new address besides the unrecorded ones
#    (nothing issued twice), no pending or superseded row anywhere, no job
#    queued;
#  - each certificate signed but not recorded whose key file was written
#    (issue-before-record): adopted, not signed again: it is one of the 2
#    active certificates, its key in the keystore, an audit record and a
#    log line saying it was signed by an earlier attempt, not on the CRL,
#    and nothing else was signed for the new address;
#  - one whose key file was never written (issue-before-keystore): now in
#    the store as revoked (superseded; "certsyncctl show SERIAL"), listed by
#    the CRL as Superseded, with a log line and an audit record saying so,
#    a row that records no key file and no key file for it anywhere;
#  - the old keys out of the keystore and in the archive, mode 600, opening
#    with the archive password; every active certificate's key in the
#    keystore, opening, and matching its certificate;
#  - the CRL listing both old serials as Affiliation Changed;
#  - no key lost: every certificate row points at a keystore or archive
#    file that exists (but a never-written one), and the crash left no
#    unrecorded key file;
#  - the old message decryptable with the key "certsyncctl recover OLDSERIAL"
#    hands back;
#  - the users of earlier rounds untouched (2 active certificates each,
#    still published, nothing revoked as cessationOfOperation).
# Then an idle "certsyncd --once" (no directory change since the previous
# run) plans nothing and changes no certificate.
# Last, "certsyncctl issue" (no directory): killed at issue-before-record,
# the next "certsyncctl issue" for the user (resuming its job in KEYS)
# records the 2 certificates it left (still right: same addresses and
# name) and signs nothing; and with a keystore directory it cannot create,
# the failed issue revokes the two certificates it signed at once (a batch
# signs both before the key files), their keys in the archive.
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify openssl base64 stat cmp sqlite3 python3
if ! grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	echo "SKIP: $CS_BUILDDIR was not configured with --enable-failpoints"
	exit 77
fi
unset CERTSYNC_FAILPOINT
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
printf 'recover-pass-%s\n' "$$" > "$T/recover.pass"
chmod 600 "$T/recover.pass"

# after-REVOKED goes first, while no other user exists: any other revocation
# in the recovery run would rewrite the CRL and close REVOKED jobs anyway, and
# hide whether the crashed job's own revocations reach the CRL.
FAILPOINTS="after-REVOKED after-KEYS issue-before-record issue-before-keystore
    after-ISSUED after-ARCHIVED publish-before-record after-PUBLISHED after-DONE"

# agent [FAILPOINT]: one "certsyncd --once", output to stdout and agent.log.
agent() {
	a_rc=0
	if [ -n "${1:-}" ]; then
		CERTSYNC_FAILPOINT=$1 "$CS_BUILDDIR/certsyncd" -c "$CONF" --once \
		    >"$T/run.out" 2>&1 || a_rc=$?
	else
		"$CS_BUILDDIR/certsyncd" -c "$CONF" --once >"$T/run.out" 2>&1 || a_rc=$?
	fi
	{ echo "=== certsyncd --once ${1:+(failpoint $1)}: exit $a_rc"; cat "$T/run.out"; } \
	    >> "$T/agent.log"
	cat "$T/run.out"
	return $a_rc
}

mail_is() { # DN ADDRESS
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$1" "$2" |
	    ldap_admin_modify >/dev/null
}

# The directory holds exactly the store's active certificates for ADDRESS.
published() { # DN ADDRESS
	cs_store_values "$2" > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	echo "store:"; cat "$T/want"; echo "directory:"; cat "$T/have"
	[ -s "$T/want" ] && cmp -s "$T/want" "$T/have"
}

smime_values() { # DN COUNT
	sm_n=$(cs_dir_values "$1" userSMIMECertificate | wc -l)
	echo "$sm_n userSMIMECertificate value(s), wanted $2"
	[ "$sm_n" -eq "$2" ]
}

# The store keeps a value without the certificates it carries (its parts
# name the rows that fill each hole, by offset in the whole value): rebuilt
# here apart from certsync's code.
sr_sql() { sqlite3 -readonly "$T/state/state.db" "$1"; }
# A certificate's (hex on stdin) issuer Name and serial INTEGER, one after
# the other, in hex: what an "n" part fills (IssuerAndSerialNumber's content).
name_serial() {
	python3 -c '
import sys
b = bytes.fromhex(sys.stdin.read().strip())
def tlv(i):
    n = b[i + 1]
    if n < 0x80:
        return 2, n
    k = n & 0x7f
    return 2 + k, int.from_bytes(b[i + 2:i + 2 + k], "big")
i = tlv(0)[0]
i += tlv(i)[0]
if b[i] == 0xa0:
    i += sum(tlv(i))
serial = b[i:i + sum(tlv(i))]
i += sum(tlv(i))
i += sum(tlv(i))
print((b[i:i + sum(tlv(i))] + serial).hex().upper())'
}
smime_kept() { # SERIAL: the whole value the store recorded, in hex
	sk_row=$(sr_sql "SELECT hex(v.value) || '|' || coalesce(v.parts, '') FROM
	    smime_values v JOIN certificates_text c ON c.id = v.cert_id WHERE c.serial = '$1'")
	sk_packed=${sk_row%%|*} sk_out= sk_q=0
	for sk_p in ${sk_row#*|}; do
		sk_ref=${sk_p%@*} sk_off=${sk_p#*@}
		case $sk_ref in
		c*) sk_der=$(sr_sql "SELECT hex(der) FROM certificates WHERE id = ${sk_ref#c}") ;;
		n*) sk_der=$(sr_sql "SELECT hex(der) FROM certificates WHERE id = ${sk_ref#n}" |
		    name_serial) ;;
		*) sk_der=$(sr_sql "SELECT hex(der) FROM smime_certs WHERE id = ${sk_ref#s}") ;;
		esac
		sk_gap=$((sk_off * 2 - ${#sk_out}))
		sk_out=$sk_out$(awk -v s="$sk_packed" -v a="$sk_q" -v n="$sk_gap" \
		    'BEGIN { printf "%s", substr(s, a + 1, n) }')$sk_der
		sk_q=$((sk_q + sk_gap))
	done
	printf '%s%s\n' "$sk_out" "$(awk -v s="$sk_packed" -v a="$sk_q" \
	    'BEGIN { printf "%s", substr(s, a + 1) }')"
}
# The entry's userSMIMECertificate value is the one the store recorded with
# the active signing certificate for ADDRESS when it was issued (so made
# before any crash after the issue step, and only written since).
smime_recorded() { # DN ADDRESS
	sr_serial=$(cs_serial signing "$2")
	sr_kept=$(smime_kept "$sr_serial")
	sr_dir=$(cs_dir_values "$1" userSMIMECertificate | base64 -d | od -An -v -tx1 |
	    tr -d ' \n' | tr a-f A-F)
	echo "signing certificate $sr_serial: recorded ${#sr_kept} hex digits," \
	    "the directory's ${#sr_dir}"
	[ -n "$sr_kept" ] && [ "$sr_kept" = "$sr_dir" ]
}

# $T/rows: one line per certificate row in the store:
#   SERIAL STATUS KIND USER KEYSTORE-FILE|- ARCHIVE-FILE|- ADDRESSES
rows() {
	ctl list | awk 'NR > 1 { print $3 }' | while read -r s; do
		ctl show "$s" | awk -v s="$s" '
		    /^Status:/ { st = $2 } /^Kind:/ { k = $2 } /^User:/ { u = $2 }
		    /^Addresses:/ { a = $2 }
		    /^Keystore file:/ { ks = $3 } /^Archive file:/ { ar = $3 }
		    END { print s, st, k, u, (ks ? ks : "-"), (ar ? ar : "-"), a }'
	done > "$T/rows"
}

# The user's active certificates: exactly one signing and one encryption,
# both for ADDRESS, and none other.
two_active() { # USER ADDRESS
	awk -v u="$1" '$4 == u && $2 == "active"' "$T/rows" | tee "$T/mine"
	[ "$(wc -l < "$T/mine")" -eq 2 ] &&
	    [ "$(awk '$3 == "signing"' "$T/mine" | wc -l)" -eq 1 ] &&
	    [ "$(awk '$3 == "encryption"' "$T/mine" | wc -l)" -eq 1 ] &&
	    [ "$(awk -v a="$2" '$7 != a' "$T/mine" | wc -l)" -eq 0 ]
}

# Rows for ADDRESS but those of the certificates the crash left unrecorded.
rows_for_address() { # ADDRESS COUNT
	ra_n=$(awk -v a="$1" 'FILENAME != ARGV[2] { o[$1] = 1; next }
	    $7 == a && !($1 in o)' "$T/orphans.crash" "$T/rows" | wc -l)
	echo "$ra_n row(s) for $1 besides $(wc -l < "$T/orphans.crash") once" \
	    "unrecorded, wanted $2"
	[ "$ra_n" -eq "$2" ]
}

# $T/orphans: "SERIAL KIND" per certificate the CA signed (a sign record in
# the audit trail) that no certificate row records, oldest first.
orphans() {
	sqlite3 "$T/state/state.db" "SELECT serial, substr(detail, 1,
	    instr(detail, ' ') - 1) FROM audit_text WHERE action = 'sign' AND serial
	    NOT IN (SELECT serial FROM certificates_text) ORDER BY id" |
	    tr '|' ' ' > "$T/orphans"
	cat "$T/orphans"
}

# orphans_are "KIND..." (or nothing): the unrecorded certificates, in order.
orphans_are() {
	orphans
	[ "$(awk '{ printf "%s%s", (NR > 1 ? " " : ""), $2 }' "$T/orphans")" = "$*" ]
}

# The unrecorded key files are exactly the orphans' keystore files.
orphan_files() {
	awk -v d="$T/keystore" '{ print d "/" $2 "-" $1 ".p12" }' "$T/orphans" |
	    sort > "$T/orphan.files"
	echo "unrecorded key files:"; cat "$T/unrecorded.new"
	echo "orphans' keystore files:"; cat "$T/orphan.files"
	cmp -s "$T/orphan.files" "$T/unrecorded.new"
}

# show_revoked SERIAL REASON: the store knows it, revoked for REASON.
show_revoked() {
	ctl show "$1" | tee "$T/show.out" &&
	    grep -Eq '^Status: +revoked$' "$T/show.out" &&
	    grep -Eq "^Revoked: .*\($2\)\$" "$T/show.out"
}

# no_key_file SERIAL: its row records no key file, and there is none.
no_key_file() {
	ctl show "$1" | tee "$T/show.out"
	! grep -Eq '^(Keystore|Archive) file:' "$T/show.out" &&
	    ! ls "$T"/keystore/*"-$1.p12"* "$T"/archive/*"-$1.p12"* 2>/dev/null
}

audit_says() { # SERIAL REGEX
	sqlite3 "$T/state/state.db" "SELECT action || ': ' || detail FROM audit_text
	    WHERE serial = '$1' ORDER BY id" | tee "$T/audit.out"
	grep -Eq -- "$2" "$T/audit.out"
}

# orphans_accounted FP: each certificate the crash left unrecorded is now
# recorded, revoked and listed, and its key kept.
orphans_accounted() {
	for o in $(awk '{ print $1 ":" $2 }' "$T/orphans.crash"); do
		o_s=${o%:*} o_k=${o#*:}
		check "[$1] unrecorded $o_k $o_s: the store has it, revoked (superseded)" \
		    show_revoked "$o_s" superseded
		check "[$1] unrecorded $o_k $o_s: the CRL lists it as Superseded" \
		    crl_lists "$o_s" Superseded
		check "[$1] unrecorded $o_k $o_s: the recovery says so in its log" \
		    grep -q "certificate $o_s was signed but not recorded" "$T/run.out"
		check "[$1] unrecorded $o_k $o_s: an audit record says so" \
		    audit_says "$o_s" '^revoke: .*signed but not recorded'
		if grep -qx "$o_s" "$T/orphans.nokey"; then
			check "[$1] unrecorded $o_k $o_s: no key file, as none was written" \
			    no_key_file "$o_s"
			continue
		fi
		check "[$1] unrecorded $o_k $o_s: its key is archived, mode 600" \
		    mode_is "$T/archive/$o_k-$o_s.p12" 600
		check "[$1] unrecorded $o_k $o_s: its key opens and matches" \
		    p12_matches "$T/archive/$o_k-$o_s.p12" "$T/archive.pass" "$o_s"
		check "[$1] unrecorded $o_k $o_s: its key is out of the keystore" \
		    test ! -e "$T/keystore/$o_k-$o_s.p12"
	done
}

# orphans_adopted FP: each certificate the crash left unrecorded, its key
# file written, is now one of the active ones: recorded, not signed again,
# not revoked.
orphans_adopted() {
	for o in $(awk '{ print $1 ":" $2 }' "$T/orphans.crash"); do
		o_s=${o%:*} o_k=${o#*:}
		check "[$1] unrecorded $o_k $o_s: adopted as an active certificate" \
		    sh -c "awk -v s='$o_s' '\$1 == s && \$2 == \"active\"' '$T/rows' | grep -q ."
		[ "$1" = ctl ] ||	# certsyncctl logs warnings only
		check "[$1] unrecorded $o_k $o_s: the log says it was recorded, not signed again" \
		    grep -q "certificate $o_s for .*(signed by an earlier attempt, recorded now)" \
		    "$T/run.out"
		check "[$1] unrecorded $o_k $o_s: an audit record says so" \
		    audit_says "$o_s" '^issue: .*signed by an earlier attempt'
		check_fails "[$1] unrecorded $o_k $o_s: the CRL does not list it" \
		    crl_lists "$o_s" ""
		check "[$1] unrecorded $o_k $o_s: its key is in the keystore, mode 600" \
		    mode_is "$T/keystore/$o_k-$o_s.p12" 600
	done
}

no_leftover_status() {
	ctl list | awk 'NR > 1 && ($1 == "pending" || $1 == "superseded")' > "$T/left"
	cat "$T/left"
	[ ! -s "$T/left" ]
}

queued_zero() {
	ctl status | tee "$T/status" | grep -Eq '^ +queued +0$'
}

mode_is() { m=$(stat -c %a "$1") && echo "$1: $m" && [ "$m" = "$2" ]; }

# p12_matches P12 PASSFILE SERIAL: opens, and its key is SERIAL's key.
p12_matches() {
	openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts -out "$T/k.pem" &&
	    openssl pkey -in "$T/k.pem" -pubout -out "$T/k.pub" &&
	    ctl show "$3" --pem | sed -n '/BEGIN CERT/,/END CERT/p' |
	    openssl x509 -noout -pubkey > "$T/c.pub" &&
	    cmp "$T/k.pub" "$T/c.pub"
}

# Every active certificate's key is in the keystore, opens and matches.
active_keys_open() {
	awk '$2 == "active"' "$T/rows" > "$T/act"
	[ -s "$T/act" ] || { echo "no active certificates"; return 1; }
	while read -r r_s r_st r_k _ r_ks r_ar _; do
		r_f=$T/keystore/$r_k-$r_s.p12
		[ "$r_ks" = "$r_f" ] ||
		    { echo "$r_s: the store says keystore file $r_ks, not $r_f"; return 1; }
		p12_matches "$r_f" "$T/archive.pass" "$r_s" || { echo "$r_s: $r_f"; return 1; }
	done < "$T/act"
}

# No key lost: every row names a keystore or archive file, and it exists
# (but for the certificates in $T/orphans.nokey, whose key was never written).
no_key_lost() {
	bad=0
	while read -r r_s r_st r_k _ r_ks r_ar _; do
		if [ "$r_ks" = - ] && [ "$r_ar" = - ] &&
		    ! grep -qx "$r_s" "$T/orphans.nokey"; then
			echo "$r_st $r_k $r_s: no key file recorded"; bad=1
		fi
		for r_f in "$r_ks" "$r_ar"; do
			[ "$r_f" = - ] || [ -f "$r_f" ] ||
			    { echo "$r_st $r_k $r_s: $r_f is missing"; bad=1; }
		done
	done < "$T/rows"
	return $bad
}

# Key files in the keystore and archive that no row records.
unrecorded() {
	for u_f in "$T"/keystore/*.p12 "$T"/archive/*.p12; do
		[ -e "$u_f" ] || continue
		awk -v f="$u_f" '$5 == f || $6 == f { found = 1 } END { exit !found }' \
		    "$T/rows" || echo "$u_f"
	done | sort
}

# crl_lists SERIAL REASON
crl_lists() {
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text |
	    awk -v s="$1" '/Serial Number:/ { on = ($3 == s) } on' > "$T/crl.entry"
	cat "$T/crl.entry"
	grep -q "Serial Number: $1" "$T/crl.entry" && grep -q "$2" "$T/crl.entry"
}

decrypts() { # P12 PASSFILE MESSAGE PLAINTEXT
	openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts -out "$T/rk.pem" &&
	    openssl cms -decrypt -binary -in "$3" -inkey "$T/rk.pem" -out "$T/dec.out" &&
	    cmp "$4" "$T/dec.out"
}

# Users of earlier rounds, "DN ADDRESS USER" each: a crash and its recovery
# must leave them alone (still 2 active certificates, published, none revoked).
: > "$T/bystanders"
: > "$T/agent.log"
: > "$T/orphans.nokey"
bystanders_intact() {
	rows
	b_bad=0
	while read -r b_dn b_addr b_user; do
		two_active "$b_user" "$b_addr" >/dev/null || {
			echo "$b_addr: not 2 active certificates; its rows:"
			awk -v u="$b_user" '$4 == u { print "    " $2, $3, $1 }' "$T/rows"
			b_bad=1
		}
		published "$b_dn" "$b_addr" >/dev/null ||
		    { echo "$b_addr: the directory does not show its certificates"; b_bad=1; }
	done < "$T/bystanders"
	# This round's runs only: an earlier round's failure is reported there.
	tail -n "+$((LOG0 + 1))" "$T/agent.log" | grep 'cessationOfOperation' && b_bad=1
	return $b_bad
}

# The job's state right after the crash at FAILPOINT ("none": no job left).
state_after() {
	case $1 in
	after-KEYS|issue-before-record|issue-before-keystore) echo KEYS ;;
	after-ISSUED) echo ISSUED ;;
	after-ARCHIVED|publish-before-record) echo ARCHIVED ;;
	after-PUBLISHED) echo PUBLISHED ;;
	after-REVOKED) echo REVOKED ;;
	after-DONE) echo none ;;
	esac
}

job_state_is() { # STATE|none
	ctl status > "$T/status"
	sed -n '/^jobs:/,/^[a-z]/p' "$T/status"
	if [ "$1" = none ]; then
		grep -Eq '^ +queued +0$' "$T/status"
	else
		grep -Eq "^ +$1 +1\$" "$T/status" && grep -Eq '^ +queued +1$' "$T/status"
	fi
}

# The directory's userCertificate values are exactly the pending
# certificates for ADDRESS (published, not yet recorded).
shows_pending() { # DN ADDRESS
	ctl list | awk -v a="$2" 'NR > 1 && $1 == "pending" && $5 == a { print $3 }' |
	    while read -r p_s; do
		ctl show "$p_s" --pem | sed -n '/BEGIN CERT/,/END CERT/p' |
		    openssl x509 -outform DER | base64 -w0; echo
	    done | sort > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	echo "pending:"; cat "$T/want"; echo "directory:"; cat "$T/have"
	[ "$(wc -l < "$T/want")" -eq 2 ] && cmp -s "$T/want" "$T/have"
}

round=0
for fp in $FAILPOINTS; do
	round=$((round + 1))
	who=crash$round
	DN="uid=$who,$SLAPD_PEOPLE"
	OLD=$who@example.test
	NEW=$who.moved@example.test
	F0=$CS_FAILS
	LOG0=$(wc -l < "$T/agent.log")
	echo "# round $round: $fp"

	ldap_add_user "$who" "$OLD" "Crash Test $round" >/dev/null
	check_exit 0 "[$fp] $who enrolled by certsyncd --once" agent
	check "[$fp] $who's certificates are in the directory" published "$DN" "$OLD"
	OLD_ENC=$(cs_serial encryption "$OLD")
	OLD_SIG=$(cs_serial signing "$OLD")
	USER=$(ctl show "$OLD_ENC" | awk '/^User:/ { print $2 }')
	cs_cert_pem encryption "$OLD" > "$T/$who.enc.pem"
	printf 'Subject: before the crash\n\nfor %s only\n' "$who" > "$T/$who.txt"
	check "[$fp] a message encrypted to the old encryption certificate $OLD_ENC" \
	    openssl cms -encrypt -aes256 -binary -in "$T/$who.txt" -out "$T/$who.p7m" \
	    "$T/$who.enc.pem"
	rows; unrecorded > "$T/unrecorded.before"

	mail_is "$DN" "$NEW"
	check_exit 137 "[$fp] certsyncd --once dies at the failpoint" agent "$fp"
	last_says "failpoint $fp: exiting as if killed" "[$fp] it was the failpoint that stopped it"
	check "[$fp] the crash left the job $(state_after "$fp")" job_state_is "$(state_after "$fp")"
	rows; unrecorded > "$T/unrecorded.crash"
	comm -13 "$T/unrecorded.before" "$T/unrecorded.crash" > "$T/unrecorded.new"
	case $fp in
	issue-before-record)
		check "[$fp] the crash left 2 certificates signed but not recorded" \
		    orphans_are signing encryption
		check "[$fp] ... and their 2 key files, which the store does not know" \
		    orphan_files ;;
	issue-before-keystore)
		check "[$fp] the crash left 2 certificates signed but not recorded" \
		    orphans_are signing encryption
		awk '{ print $1 }' "$T/orphans" >> "$T/orphans.nokey"
		check "[$fp] ... and no key file" test ! -s "$T/unrecorded.new" ;;
	publish-before-record)
		check "[$fp] the directory already shows the pending certificates" \
		    shows_pending "$DN" "$NEW" ;;
	esac
	case $fp in
	issue-before-*) ;;
	*) check "[$fp] the crash left no certificate signed but not recorded" \
		orphans_are ;;
	esac
	cp "$T/orphans" "$T/orphans.crash"

	check_exit 0 "[$fp] the next certsyncd --once finishes the job" agent
	rows
	check "[$fp] the directory shows exactly the active certificates for $NEW" \
	    published "$DN" "$NEW"
	check "[$fp] one userSMIMECertificate value" smime_values "$DN" 1
	check "[$fp] it is the value recorded when the certificates were issued" \
	    smime_recorded "$DN" "$NEW"
	check "[$fp] exactly 2 active certificates (signing, encryption) for $NEW" \
	    two_active "$USER" "$NEW"
	if [ "$fp" = issue-before-record ]; then
		check "[$fp] no row for $NEW but the 2 adopted: nothing signed again" \
		    rows_for_address "$NEW" 0
		orphans_adopted "$fp"
	else
		check "[$fp] 2 rows for $NEW: nothing issued twice" rows_for_address "$NEW" 2
		orphans_accounted "$fp"
	fi
	check "[$fp] no pending or superseded certificate left" no_leftover_status
	check "[$fp] no job left (queued 0)" queued_zero
	check "[$fp] no certificate signed but not recorded is left" orphans_are
	for kind in encryption signing; do
		if [ "$kind" = encryption ]; then old=$OLD_ENC; else old=$OLD_SIG; fi
		check "[$fp] old $kind key $old archived, mode 600" \
		    mode_is "$T/archive/$kind-$old.p12" 600
		check "[$fp] old $kind key opens with the archive password and matches" \
		    p12_matches "$T/archive/$kind-$old.p12" "$T/archive.pass" "$old"
		check "[$fp] old $kind key is out of the keystore" \
		    test ! -e "$T/keystore/$kind-$old.p12"
		check "[$fp] CRL lists old $kind $old as Affiliation Changed" \
		    crl_lists "$old" "Affiliation Changed"
	done
	check "[$fp] every active certificate's key is in the keystore and opens" \
	    active_keys_open
	check "[$fp] no key lost: every row's key file exists" no_key_lost
	unrecorded > "$T/unrecorded.after"
	comm -13 "$T/unrecorded.before" "$T/unrecorded.after" > "$T/unrecorded.new"
	check "[$fp] the crash left no unrecorded key file" test ! -s "$T/unrecorded.new"
	check_exit 0 "[$fp] certsyncctl recover $OLD_ENC" \
	    ctl recover "$OLD_ENC" --out "$T/$who.r.p12" --password-file "$T/recover.pass"
	check "[$fp] the recovered key decrypts the message sent before the crash" \
	    decrypts "$T/$who.r.p12" "$T/recover.pass" "$T/$who.p7m" "$T/$who.txt"
	if [ -s "$T/bystanders" ]; then
		check "[$fp] the users of earlier rounds are untouched" bystanders_intact
	fi
	echo "$DN $NEW $USER" >> "$T/bystanders"
	if [ "$CS_FAILS" -eq "$F0" ]; then
		echo "# round $round: $fp: PASS"
	else
		echo "# round $round: $fp: FAIL ($((CS_FAILS - F0)) check(s))"
	fi
done

echo "# an idle run: nothing changed in the directory since the last one"
LOG0=$(wc -l < "$T/agent.log")
ctl list > "$T/list.before"
check_exit 0 "certsyncd --once with nothing to do" agent
last_says 'refresh complete: 0 planned' "it planned nothing"
ctl list > "$T/list.after"
check "it changed no certificate" cmp "$T/list.before" "$T/list.after"
check "every user is untouched" bystanders_intact

# certsyncctl runs the same job, without a runner: it is its own resumption
# (the job in KEYS) that finds what a crash left.
fp=ctl
echo "# certsyncctl issue killed at issue-before-record, then run again"
check_exit 137 "[$fp] certsyncctl issue dies at issue-before-record" \
    env CERTSYNC_FAILPOINT=issue-before-record \
    "$CTL" -c "$CONF" issue manual1@example.test --name "Manual One" --user manual1
check "[$fp] the crash left the job KEYS" job_state_is KEYS
check "[$fp] the crash left 2 certificates signed but not recorded" \
    orphans_are signing encryption
cp "$T/orphans" "$T/orphans.crash"
check_exit 0 "[$fp] the next certsyncctl issue for the user" \
    ctl issue manual1@example.test --name "Manual One" --user manual1
cp "$T/last.out" "$T/run.out"
rows
check "[$fp] exactly 2 active certificates for manual1@example.test" \
    two_active manual1 manual1@example.test
check "[$fp] no row for manual1@example.test but the 2 adopted: nothing signed again" \
    rows_for_address manual1@example.test 0
orphans_adopted "$fp"
check "[$fp] no certificate signed but not recorded is left" orphans_are
check "[$fp] no job left (queued 0)" queued_zero

fp=ctl-failed
echo "# certsyncctl issue fails to write the key file it signed"
sed 's|^directory = keystore$|directory = keystore.broken|' "$CONF" > "$T/broken.conf"
: > "$T/keystore.broken"
check_exit 70 "[$fp] certsyncctl issue cannot write to its keystore directory" \
    "$CTL" -c "$T/broken.conf" issue manual2@example.test --name "Manual Two" \
    --user manual2
last_says "signing certificate [0-9A-F]+ was signed but not recorded before \
this attempt failed; revoked \\(superseded\\), key archived" \
    "[$fp] it revoked the signing certificate it had signed, and archived its key"
last_says "encryption certificate [0-9A-F]+ was signed but not recorded before \
this attempt failed; revoked \\(superseded\\), key archived" \
    "[$fp] ... and the encryption certificate (both are signed before the key files)"
sed -n 's/.* \(signing\|encryption\) certificate \([0-9A-F]*\) was signed but not recorded.*/\2 \1/p' \
    "$T/last.out" > "$T/orphans.crash"
cp "$T/last.out" "$T/run.out"
check "[$fp] it signed exactly 2 certificates" test "$(wc -l < "$T/orphans.crash")" -eq 2
check "[$fp] nothing is left signed but not recorded" orphans_are
check_exit 0 "[$fp] certsyncctl issue for the user, with its keystore" \
    ctl issue manual2@example.test --name "Manual Two" --user manual2
rows
check "[$fp] exactly 2 active certificates for manual2@example.test" \
    two_active manual2 manual2@example.test
orphans_accounted "$fp"
cs_done
