#!/bin/sh
# agent_fault_store.sh - the state store and the key files cannot be
# written in the middle of a mass reissue of FAULT_USERS (100) users: the
# disk full for 12 s, then another process holding the store's write lock
# for 12 s (the 20 s each, shortened: the first attempts fail and
# the hold grows to 8 s within 12 s; more time only repeats that).
#
# The disk: the state store, keystore, archive and CRL live on a tmpfs of
# 64 MiB that the test mounts (in a mount namespace of its own, so nothing
# outlives it) and fills with a file, then frees.  Needs root (skips, 77,
# otherwise).  The lock: sqlite3 holds BEGIN IMMEDIATE with an insert
# uncommitted.
# Proves, for each fault:
#  - certsyncctl status works during it (it opens the store read-only) and
#    names it: "the file system of ... is full", "locked for writing by pid
#    N (sqlite3)";
#  - the backoff holds though the store cannot record a retry: at most 30
#    retry lines a minute, no line repeated more than 5 times (the store's
#    own errors are counted, not repeated), and a retry the store could not
#    record says so ("could not record the retry");
#  - a retry does not sign again what an attempt signed and could not
#    record (its keystore file could not be written: the runner kept the
#    key, and a later attempt wrote it and recorded the certificate, "signed
#    by an earlier attempt"): afterwards nothing is revoked beyond the
#    replaced certificates (no revoke churn: the CRL grows by exactly 2 per
#    user), and nothing is lost, stale or doubled (fault_verdict).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: mounting the test's own tmpfs needs root"
	exit 77
fi
if [ -z "${CS_FAULT_NS:-}" ]; then
	# A private mount namespace: the tmpfs goes with the test, however it ends.
	CS_FAULT_NS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$CS_SRCDIR/tests/integration/faults.sh"
cs_need unshare mount dd

# The state's directories on a tmpfs of the test's own.
on_tmpfs() {
	mkdir "$T/fs"
	mount -t tmpfs -o size=64m,mode=0700 tmpfs "$T/fs"
	# Lazily: the killed agent may not have closed its files yet.
	cs_on_exit "umount -l '$T/fs'"
	for d in state keystore archive crl; do
		mkdir -m 700 "$T/fs/$d"
		ln -s "fs/$d" "$T/$d"
	done
}
FAULT_BEFORE_START=on_tmpfs
fault_setup

# fill: the tmpfs to its last block.  The agent frees a few blocks of its
# own as its writes fail (a temporary file removed), so the last blocks
# are taken again, at most 5 times, until none is left.
fill() {
	dd if=/dev/zero of="$T/fs/fill" bs=1M >/dev/null 2>&1 || :
	for i in 1 2 3 4 5; do
		dd if=/dev/zero of="$T/fs/fill-$i" bs=4k >/dev/null 2>&1 || :
		df -k "$T/fs" | awk 'NR == 2 { exit !($4 == 0) }' && break
	done
	df -k "$T/fs" | awk 'NR == 2 { print $4 " KiB free"; exit !($4 == 0) }'
}

echo "# the disk full for 12 s during a mass reissue"
fault_reissue two.test
check "the reissue is under way" cs_wait_for 60 fault_some_moved two.test 20
fault_start
check "the file system is full" fill
check "status names the full file system" \
    within 10 status_says '^state store: +the file system of .* is full'
check "status lists the failing jobs with their last error" \
    within 15 status_says '^  uid=fu[0-9]+,.*failed attempt.*: .*No space left on device'
check "the log says what is wrong" \
    within 15 log_has 'No space left on device|database or disk is full'
while [ $(($(date +%s) - FAULT_T0)) -lt 12 ]; do sleep 1; done
fault_end
rm -f "$T/fs/fill" "$T/fs"/fill-*
check "after the disk is freed every user is reissued" fault_wait_moved two.test 120
check "what an attempt signed and could not write was recorded, not signed again" \
    log_has 'signed by an earlier attempt, recorded now'
check "the jobs' retries held back: at most 30 a minute" \
    fault_rate_at_most 'retried in|jobs wait' 30
check "no line repeated more than 5 times" log_no_storm 5
check "nothing lost, stale or doubled; no revoke churn" fault_verdict two.test 1 0
check "status no longer says the disk is full" \
    sh -c "! '$CTL' -c '$CONF' status | grep -q 'is full'"

echo "# another process holds the state store's write lock for 12 s"
LOCK_PID=
hold_lock() {
	{
		# The agent may hold the lock a moment: wait for it, and stop at
		# any error (no autocommit insert passing for a held lock).
		echo ".timeout 10000"
		echo ".bail on"
		echo "BEGIN IMMEDIATE;"
		echo "INSERT INTO daemon_state (key, value, updated_at) VALUES ('test', 'lock', 0);"
		echo "SELECT 'locked';"
		sleep 12
		echo "ROLLBACK;"
	} | sqlite3 "$DB" > "$T/lock.out" 2>&1 &
	LOCK_PID=$!
	cs_on_exit "kill $LOCK_PID 2>/dev/null"
}
fault_reissue three.test
check "the reissue is under way" cs_wait_for 60 fault_some_moved three.test 20
hold_lock
check "sqlite3 holds the lock" cs_wait_for 10 grep -q locked "$T/lock.out"
fault_start
check "status works under the lock, and names who holds it" \
    within 10 status_says '^state store: +locked for writing by pid [0-9]+ \(sqlite3\)'
check "... and lists the users and the checkpoint as before" \
    status_says '^checkpoint: +syncrepl cookie saved'
check "list works under the lock" sh -c "'$CTL' -c '$CONF' list --active | grep -q fu1@"
check "the agent says the store is locked" within 15 log_has 'database is locked'
check "a retry the store could not record says so" \
    within 15 log_has 'could not record the retry \(database is locked\); jobs wait'
check "status says the agent runs, with its pid" status_says "^daemon: +running, pid $AGENT_PID "
wait "$LOCK_PID" || :
fault_end
check "the watcher reconnects with backoff, not every second" \
    log_at_most 'directory .*: connected; ' 4
check "after the lock every user is reissued" fault_wait_moved three.test 120
check "the jobs' retries held back: at most 30 a minute" \
    fault_rate_at_most 'retried in|jobs wait' 30
check "no line repeated more than 5 times" log_no_storm 5
check "nothing lost, stale or doubled; no revoke churn" fault_verdict three.test 2 0
check "the agent ran throughout" agent_alive
cs_done
