#!/bin/sh
# agent_crash.sh - certsyncd killed at every step of a reissue loses nothing
# and finishes the job on its next run.
#
# For each failpoint of the job (after-REVOKED, after-KEYS,
# issue-before-record, after-ISSUED, after-ARCHIVED, publish-before-record,
# after-PUBLISHED, after-DONE), against one slapd and one store, a new user
# crashN is enrolled by "certsyncd --once", gets a message encrypted to its
# encryption certificate, and changes its mail.  "CERTSYNC_FAILPOINT=FP certsyncd
# --once" must die at exactly that point (exit 137, the failpoint's own log
# line: the point was reached) and leave the job in that step's state (for
# issue-before-record: 2 key files the store does not know; for
# publish-before-record: the directory already showing the pending
# certificates), then a plain "certsyncd --once" must exit 0 and leave:
#  - the entry's userCertificate values exactly the store's active
#    certificates for the new address (no stale old value, nothing doubled)
#    and one userSMIMECertificate value;
#  - exactly 2 active certificates for the user (signing + encryption, the
#    new address), 2 rows for the new address in all (nothing issued twice),
#    no pending or superseded row anywhere, no job queued;
#  - the old keys out of the keystore and in the archive, mode 600, opening
#    with the archive password; every active certificate's key in the
#    keystore, opening, and matching its certificate;
#  - the CRL listing both old serials as Affiliation Changed;
#  - no key lost: every certificate row points at a keystore or archive
#    file that exists, and the crash left no unrecorded key file (except
#    issue-before-record, whose leftovers job.c documents; they are counted);
#  - the old message decryptable with the key "certsyncctl recover OLDSERIAL"
#    hands back;
#  - the users of earlier rounds untouched (2 active certificates each,
#    still published, nothing revoked as cessationOfOperation).
# Last, an idle "certsyncd --once" (no directory change since the previous
# run) plans nothing and changes no certificate.
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify openssl base64 stat cmp
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
FAILPOINTS="after-REVOKED after-KEYS issue-before-record after-ISSUED
    after-ARCHIVED publish-before-record after-PUBLISHED after-DONE"

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

rows_for_address() { # ADDRESS COUNT
	ra_n=$(awk -v a="$1" '$7 == a' "$T/rows" | wc -l)
	echo "$ra_n row(s) for $1, wanted $2"
	[ "$ra_n" -eq "$2" ]
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

# No key lost: every row names a keystore or archive file, and it exists.
no_key_lost() {
	bad=0
	while read -r r_s r_st r_k _ r_ks r_ar _; do
		if [ "$r_ks" = - ] && [ "$r_ar" = - ]; then
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
	after-KEYS|issue-before-record) echo KEYS ;;
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
	case $fp in
	issue-before-record)
		rows; unrecorded > "$T/unrecorded.crash"
		check "[$fp] the crash left 2 key files the store does not know" test \
		    "$(comm -13 "$T/unrecorded.before" "$T/unrecorded.crash" | wc -l)" -eq 2 ;;
	publish-before-record)
		check "[$fp] the directory already shows the pending certificates" \
		    shows_pending "$DN" "$NEW" ;;
	esac

	check_exit 0 "[$fp] the next certsyncd --once finishes the job" agent
	rows
	check "[$fp] the directory shows exactly the active certificates for $NEW" \
	    published "$DN" "$NEW"
	check "[$fp] one userSMIMECertificate value" smime_values "$DN" 1
	check "[$fp] exactly 2 active certificates (signing, encryption) for $NEW" \
	    two_active "$USER" "$NEW"
	check "[$fp] 2 rows for $NEW: nothing issued twice" rows_for_address "$NEW" 2
	check "[$fp] no pending or superseded certificate left" no_leftover_status
	check "[$fp] no job left (queued 0)" queued_zero
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
	if [ "$fp" = issue-before-record ]; then
		echo "# note: $(wc -l < "$T/unrecorded.new") unrecorded key file(s) left by" \
		    "the crash (keys and CA-signed certificates the store never knew):"
		sed 's/^/#   /' "$T/unrecorded.new"
	else
		check "[$fp] the crash left no unrecorded key file" test ! -s "$T/unrecorded.new"
	fi
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
cs_done
