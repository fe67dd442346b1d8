#!/bin/sh
# agent_leftovers.sh - what a kill leaves behind is cleared, and status
# tells a killed agent from a running one.
#
# Proves that:
#  - a kill between a revocation's commit and the removal of the keystore
#    copy (failpoint revoke-before-unlink) leaves the revoked key in the
#    keystore while the store says revoked and archived; the next start
#    removes it (matching the store's rows), logs it, and keeps the archive
#    copy, which still opens; the same kill under certsyncctl issue is
#    cleared when the job is resumed;
#  - temporary files of atomic writes are removed at start when their
#    writer is gone (its pid in the name), and kept when it is alive (a
#    certsyncctl writing right now); an old-style name without pid only
#    once it is an hour old; nothing but our own names is touched;
#  - keystore files the store does not know are left alone and named in
#    one line per start;
#  - after kill -9 of the agent, certsyncctl status says it is not running
#    (and that it ended without stopping), and no longer "connected".
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify openssl sqlite3
if ! grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	echo "SKIP: $CS_BUILDDIR was not configured with --enable-failpoints"
	exit 77
fi
unset CERTSYNC_FAILPOINT
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
: > "$T/agent.log"

once() { # [FAILPOINT]: certsyncd --once, its output appended to agent.log
	o_rc=0
	CERTSYNC_FAILPOINT=${1:-} "$CS_BUILDDIR/certsyncd" -c "$CONF" --once \
	    > "$T/run.out" 2>&1 || o_rc=$?
	cat "$T/run.out" >> "$T/agent.log"
	cat "$T/run.out"
	return $o_rc
}
mail_is() { # DN ADDRESS
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$1" "$2" |
	    ldap_admin_modify >/dev/null
}
status_is() { # SERIAL STATUS
	ctl show "$1" | tee "$T/show.out" | grep -Eq "^Status: +$2\$"
}
archive_opens() { # KIND SERIAL
	openssl pkcs12 -in "$T/archive/$1-$2.p12" -passin "file:$T/archive.pass" \
	    -nodes -nocerts >/dev/null 2>&1
}
DN="uid=lee,$SLAPD_PEOPLE"
ldap_add_user lee lee@example.test "Lee Left" >/dev/null
check_exit 0 "lee enrolled" once
OLD_ENC=$(cs_serial encryption lee@example.test)
OLD_SIG=$(cs_serial signing lee@example.test)

echo "# killed between a revocation and the removal of its keystore copy"
mail_is "$DN" lee.moved@example.test
check_exit 137 "certsyncd --once dies at revoke-before-unlink" once revoke-before-unlink
# The kill came after the first of the two revocations.
if status_is "$OLD_ENC" revoked; then K=encryption S=$OLD_ENC; else K=signing S=$OLD_SIG; fi
check "the store says the old $K certificate is revoked" status_is "$S" revoked
check "... its key archived" archive_opens "$K" "$S"
check "... and its key is still in the keystore (what the kill left)" \
    test -e "$T/keystore/$K-$S.p12"

echo "# leftovers of killed writers, and files of nobody's"
# A pid that is certainly gone: a child that has exited and been reaped.
sh -c 'exit 0' & DEAD=$!; wait $DEAD
sleep 300 & LIVE=$!
cs_on_exit "kill $LIVE 2>/dev/null"
mkdir -p "$T/crl"
touch "$T/keystore/signing-AB12.p12.tmp.$DEAD.Xy12Zq" \
    "$T/archive/encryption-CD34.p12.tmp.$DEAD.Ab34Cd" \
    "$T/crl/ca.crl.tmp.$DEAD.Ef56Gh" \
    "$T/archive/signing-EF56.p12.tmp.$LIVE.Ij78Kl" \
    "$T/keystore/dual-0A0B.p12.tmp.Mn90Op" \
    "$T/keystore/dual-0C0D.p12.tmp.Qr12St" \
    "$T/keystore/notes.tmp.txt" \
    "$T/keystore/encryption-DEADBEEF.p12" "$T/keystore/README"
touch -d '2 hours ago' "$T/keystore/dual-0A0B.p12.tmp.Mn90Op"

check_exit 0 "the next certsyncd --once finishes the job" once
check "the revoked key is out of the keystore" test ! -e "$T/keystore/$K-$S.p12"
check "... so are both old keys" \
    test ! -e "$T/keystore/signing-$OLD_SIG.p12" -a ! -e "$T/keystore/encryption-$OLD_ENC.p12"
check "... its archive copy stays and opens" archive_opens "$K" "$S"
check "the removal is logged" grep -q "removed $T/keystore/$K-$S.p12" "$T/run.out"
for f in "keystore/signing-AB12.p12.tmp.$DEAD.Xy12Zq" \
    "archive/encryption-CD34.p12.tmp.$DEAD.Ab34Cd" "crl/ca.crl.tmp.$DEAD.Ef56Gh" \
    keystore/dual-0A0B.p12.tmp.Mn90Op; do
	check "removed: $f (its writer is gone)" test ! -e "$T/$f"
done
check "kept: a temporary file whose writer (pid $LIVE) is alive" \
    test -e "$T/archive/signing-EF56.p12.tmp.$LIVE.Ij78Kl"
check "kept: an old-style temporary file less than an hour old" \
    test -e "$T/keystore/dual-0C0D.p12.tmp.Qr12St"
check "kept: a name that is not ours" test -e "$T/keystore/notes.tmp.txt"
check "kept: key files the store does not know" \
    test -e "$T/keystore/encryption-DEADBEEF.p12" -a -e "$T/keystore/README"
check "they are named in one line" \
    test "$(grep -c 'file(s) the state store does not know, left alone' "$T/run.out")" -eq 1
check "... naming each" grep -q 'left alone: .*encryption-DEADBEEF.p12' "$T/run.out"
check "every active key is in the keystore" sh -c "
    for s in \$('$CTL' -c '$CONF' list --active | awk 'NR > 1 { print \$2 \"-\" \$3 }'); do
	    test -e '$T/keystore/'\$s.p12 || exit 1; done"

echo "# the same kill under certsyncctl issue, cleared when the job resumes"
ctl issue kim@example.test --name "Kim Kept" --user kim >/dev/null
KIM_ENC=$(cs_serial encryption kim@example.test)
KIM_SIG=$(cs_serial signing kim@example.test)
check_exit 137 "certsyncctl issue (a reissue) dies at revoke-before-unlink" \
    env CERTSYNC_FAILPOINT=revoke-before-unlink \
    "$CTL" -c "$CONF" issue kim.new@example.test --name "Kim Kept" --user kim
if status_is "$KIM_ENC" revoked; then K=encryption S=$KIM_ENC; else K=signing S=$KIM_SIG; fi
check "the revoked key was left in the keystore" test -e "$T/keystore/$K-$S.p12"
check_exit 0 "the next certsyncctl issue for kim resumes the job" \
    ctl issue kim.new@example.test --name "Kim Kept" --user kim
check "the revoked key is out of the keystore" test ! -e "$T/keystore/$K-$S.p12"
check "its archive copy opens" archive_opens "$K" "$S"

echo "# status after the agent is killed"
cs_agent_start
check "the agent connects" cs_wait_for 20 sh -c "'$CTL' -c '$CONF' status | grep -q '^connection: *connected'"
check "status says it runs, with its pid" \
    sh -c "'$CTL' -c '$CONF' status | grep -Eq '^daemon: +running, pid $AGENT_PID '"
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || :
check_exit 0 "status after kill -9" ctl status
last_says "^daemon: +not running: pid $AGENT_PID ended without stopping" \
    "it says the agent is not running, and ended without stopping"
last_says '^connection: +none: the agent is not running' "it no longer says connected"
check "... nowhere" sh -c "! grep -q '^connection: *connected' '$T/last.out'"
cs_done
