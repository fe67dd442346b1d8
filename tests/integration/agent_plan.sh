#!/bin/sh
# agent_plan.sh - "certsyncd --dry-run" and "certsyncctl plan" say what would
# be done, and do none of it.
#
# Proves that: against a real slapd with two new users, both commands exit 0
# and print the same plan: an "enroll" line per user naming its DN and why
# ("new user with ADDRESS") and the summary "2 to do"; and they write
# nothing: no certificate in the store (list prints only its header), no
# identity, job or audit row, no keystore, archive or CRL file, nothing in
# the users' entries.  After certsyncd --once has enrolled both, a changed
# mail and a changed displayName are planned as "reissue" with their reasons
# (addresses changed / subject changed), again without a write (store,
# audit, files and directory unchanged); a user deleted from the directory
# is planned as "hold".  The next --once does it: the deleted user's
# certificates are on hold (Certificate Hold in the CRL), the renamed
# user's old ones as Superseded and replaced by certificates with the new
# name; status then shows the daemon stopped, a saved checkpoint, 0 queued
# jobs and a CRL number above 0.  Finally plan says "0 to do", and --once
# (twice: the first sees the agent's own writes) keeps that promise.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify ldapdelete openssl base64 sqlite3 sha256sum
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
ALICE="uid=alice,$SLAPD_PEOPLE"
BOB="uid=bob,$SLAPD_PEOPLE"
DB=$T/state/state.db
check "add alice" ldap_add_user alice alice@example.test "Alice Example" Alice Example
check "add bob" ldap_add_user bob bob@example.test "Bob Builder" Bob Builder

# The plan on stdout (stderr, the log, kept apart).
dry_run() { "$CS_BUILDDIR/certsyncd" -c "$CONF" --dry-run 2>"$T/dry.err"; }
ctl_plan() { ctl plan 2>"$T/plan.err"; }

# run_plans TAG: both commands, each checked for exit 0, outputs kept.
run_plans() {
	check_exit 0 "certsyncd --dry-run ($1)" dry_run
	cp "$T/last.out" "$T/dry.$1"
	check_exit 0 "certsyncctl plan ($1)" ctl_plan
	cp "$T/last.out" "$T/plan.$1"
	check "both print the same plan ($1)" same_plan "$T/dry.$1" "$T/plan.$1"
}
same_plan() { diff "$1" "$2"; }

# plans TAG ACTION DN REASON-ERE: both outputs hold exactly one line for DN,
# with ACTION and that reason.
plans() {
	for f in "$T/dry.$1" "$T/plan.$1"; do
		grep -F " $3 (" "$f" > "$T/lines" || :
		cat "$T/lines"
		[ "$(wc -l < "$T/lines")" -eq 1 ] || return 1
		grep -Eq -- "^$2 +[^ ]+ \([0-9a-f-]{36}\): $4\$" "$T/lines" || return 1
	done
}
summary() { # TAG N
	grep -x "$2 to do, 0 skipped, [0-9]* up to date" "$T/dry.$1" &&
	    grep -x "$2 to do, 0 skipped, [0-9]* up to date" "$T/plan.$1"
}

rows() { # TABLE: its row count, 0 when there is no database yet
	if [ -e "$DB" ]; then sqlite3 "$DB" "select count(*) from $1"; else echo 0; fi
}
audit_count() { rows audit; }
files_in() { find "$@" -type f 2>/dev/null | wc -l; }
no_dir_certs() { # DN
	ldap_get_attr "$1" userCertificate userSMIMECertificate
	[ -z "$(cs_dir_values "$1" userCertificate)" ] &&
	    [ -z "$(cs_dir_values "$1" userSMIMECertificate)" ]
}
only_header() { ctl list > "$T/list"; cat "$T/list"; [ "$(wc -l < "$T/list")" -eq 1 ] && grep -q '^STATUS ' "$T/list"; }
no_skipped() { ctl status | sed -n '/^skipped users:/{n;p;}' | grep -qx '  none'; }
# Everything a run could write, in one file: store rows, audit, files, entries.
snapshot() {
	{
		ctl list
		for t in identities jobs certificates revocations published audit crl_state; do
			echo "$t: $(rows "$t")"
		done
		[ ! -e "$DB" ] || sqlite3 "$DB" 'select * from identities_text order by uuid; select * from jobs'
		find "$T/keystore" "$T/archive" "$T/crl" -type f -exec sha256sum {} + 2>/dev/null | sort
		for dn in "$ALICE" "$BOB"; do
			ldap_get_attr "$dn" dn >/dev/null 2>&1 || continue
			echo "$dn"
			cs_dir_values "$dn" userCertificate
			cs_dir_values "$dn" userSMIMECertificate
		done
	} > "$1"
}
unchanged_since() { snapshot "$T/snap.now"; diff "$1" "$T/snap.now"; }

echo "# two new users: both would be enrolled, nothing is written"
run_plans new
check "alice: enroll, as a new user" plans new enroll "$ALICE" "new user with alice@example\.test"
check "bob: enroll, as a new user" plans new enroll "$BOB" "new user with bob@example\.test"
check "summary: 2 to do" summary new 2
check "no certificate in the store: list prints only its header" only_header
check "no identity recorded" test "$(rows identities)" -eq 0
check "no job recorded" test "$(rows jobs)" -eq 0
check "no audit entry" test "$(audit_count)" -eq 0
check "status: no skipped users" no_skipped
check "no keystore or archive file" test "$(files_in "$T/keystore" "$T/archive")" -eq 0
check "no CRL written" test "$(files_in "$T/crl")" -eq 0
check "alice's entry has no certificate" no_dir_certs "$ALICE"
check "bob's entry has no certificate" no_dir_certs "$BOB"

echo "# --once enrolls them"
check_exit 0 "certsyncd --once" "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
active_count() { ctl list --active | awk -v a="$1" 'NR > 1 && $NF == a' | wc -l; }
check "alice has 2 active certificates" test "$(active_count alice@example.test)" -eq 2
check "bob has 2 active certificates" test "$(active_count bob@example.test)" -eq 2
serials_of() { ctl list --active | awk -v a="$1" 'NR > 1 && $NF == a { print $3 }'; }
ALICE_OLD=$(serials_of alice@example.test)
BOB_OLD=$(serials_of bob@example.test)

echo "# a new mail and a new displayName: reissues, planned only"
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: alice.new@example.test\n' "$ALICE" |
    ldap_admin_modify >/dev/null
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Robert Builder\n' "$BOB" |
    ldap_admin_modify >/dev/null
AUDIT0=$(audit_count)
snapshot "$T/snap.before"
run_plans changed
check "alice: reissue, addresses changed" plans changed reissue "$ALICE" \
    "addresses changed from alice@example\.test to alice\.new@example\.test"
check "bob: reissue, subject changed" plans changed reissue "$BOB" \
    "subject changed from .*Bob Builder.* to .*Robert Builder.*"
check "summary: 2 to do" summary changed 2
check "audit count unchanged ($AUDIT0)" test "$(audit_count)" -eq "$AUDIT0"
check "store, files and entries unchanged" unchanged_since "$T/snap.before"

echo "# a deleted user: hold, planned only"
check "delete alice" env LDAPNOINIT=1 ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" \
    -y "$SLAPD_ADMIN_PW_FILE" "$ALICE"
snapshot "$T/snap.deleted"	# the same as before, but for alice's entry
run_plans deleted
check "alice: hold, gone from the directory" plans deleted hold "$ALICE" \
    "the user is gone from the directory; 2 certificate\\(s\\) withdrawn and put on hold for 7 day\\(s\\)"
check "bob: still reissue" plans deleted reissue "$BOB" "subject changed from .*"
check "summary: 2 to do" summary deleted 2
check "audit count unchanged ($AUDIT0)" test "$(audit_count)" -eq "$AUDIT0"
check "store, files and bob's entry unchanged" unchanged_since "$T/snap.deleted"

echo "# --once carries the plan out"
check_exit 0 "certsyncd --once" "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
cp "$T/last.out" "$T/once2.log"
# crl_reason SERIAL REASON: the CRL's entry for SERIAL carries REASON.
crl_reason() {
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text |
	    awk -v s="$1" '/Serial Number:/ { on = ($3 == s) } on' > "$T/crl.entry"
	cat "$T/crl.entry"
	grep -q "Serial Number: $1" "$T/crl.entry" && grep -q "$2" "$T/crl.entry"
}
for s in $ALICE_OLD; do
	check "alice's $s is on hold: Certificate Hold" crl_reason "$s" "Certificate Hold"
done
for s in $BOB_OLD; do
	check "bob's old $s is revoked: Superseded" crl_reason "$s" "Superseded"
done
check "alice has no active certificate left" test "$(ctl list --active | grep -c alice)" -eq 0
check "bob has 2 new active certificates" test "$(active_count bob@example.test)" -eq 2
BOB_NEW=$(serials_of bob@example.test)
check "bob's new certificates are not the old ones" test "$BOB_NEW" != "$BOB_OLD"
names() { # ADDRESS NAME: both active certificates' subjects hold NAME
	for kind in signing encryption; do
		subject=$(ctl show "$(cs_serial "$kind" "$1")" | sed -n 's/^Subject: *//p')
		echo "$kind: $subject"
		case "$subject" in *"$2"*) ;; *) return 1 ;; esac
	done
}
check "bob's new certificates name Robert Builder" names bob@example.test "Robert Builder"
# DN holds exactly the store's active certificates of ADDRESS, and some.
published() {
	cs_store_values "$2" > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	[ -s "$T/want" ] && cmp "$T/want" "$T/have"
}
check "the entry holds bob's new certificates" published "$BOB" bob@example.test

echo "# status after --once"
check "certsyncctl status" ctl status
cp "$T/last.out" "$T/status.out"
last_says '^daemon: +stopped ' "daemon: stopped"
last_says '^checkpoint: +syncrepl cookie saved' "a checkpoint is saved"
last_says '^  queued +0$' "0 queued jobs"
crl_number() { sed -n 's/^CRL: *number \([0-9]*\),.*/\1/p' "$T/status.out"; }
check "CRL number above 0 ($(crl_number))" test "$(crl_number)" -gt 0

echo "# then nothing is left to do, and --once does nothing"
check_exit 0 "certsyncctl plan" ctl_plan
last_says '^0 to do, 0 skipped, [0-9]+ up to date$' "plan: 0 to do"
# The first pass reads back the agent's own certificate writes; the second
# starts from a cookie with nothing at all changed since.
for pass in 1 2; do
	check_exit 0 "certsyncd --once, nothing changed (pass $pass)" \
	    "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
	cp "$T/last.out" "$T/idle$pass.log"
	check "bob keeps the same 2 active certificates (pass $pass)" \
	    test "$(serials_of bob@example.test)" = "$BOB_NEW"
	check "bob's entry still holds them (pass $pass)" published "$BOB" bob@example.test
	check "nothing was planned (pass $pass)" grep -q 'refresh complete: 0 planned' "$T/idle$pass.log"
done
cs_done
