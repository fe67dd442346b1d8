#!/bin/sh
# ctl_readonly.sh - the commands that only look (status, list, show, audit)
# open the state store read-only.
#
# Proves that:
#  - while another process holds a write transaction (sqlite3: BEGIN
#    IMMEDIATE and an insert, uncommitted), status, list, show and audit
#    answer at once and exit 0 (they used to wait 5 s for the lock and fail
#    "database is locked": store_open took it for its migrations), and
#    status names the process holding the lock; a command that writes
#    (crl) still waits for the lock and says so;
#  - a read-only command never migrates: on a store whose schema is older
#    it says, in one line, that it needs migrating and how, and leaves the
#    version as it was; on one from a newer certsync it refuses to read it;
#  - with no store yet they answer as for an empty one, and create nothing.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need sqlite3
cs_setup
DB=$T/state/state.db

echo "# no store yet"
check_exit 0 "list with no store yet" ctl list
check_exit 0 "status with no store yet" ctl status
last_says '^daemon: +unknown' "status says the agent never ran"
check "and no store was created" test ! -e "$DB"

ctl issue alice@example.test --name "Alice Example" --user alice >/dev/null
SERIAL=$(cs_serial encryption alice@example.test)

echo "# another process holds a write transaction"
{
	echo ".timeout 10000"
	echo ".bail on"
	echo "BEGIN IMMEDIATE;"
	echo "INSERT INTO daemon_state (key, value, updated_at) VALUES ('t', 'x', 0);"
	echo "SELECT 'locked';"
	# Held until the checks are done (the sleep is killed), 60 s at most.
	sleep 60 & echo $! > "$T/lock.sleep"; wait
	echo "ROLLBACK;"
} | sqlite3 "$DB" > "$T/lock.out" 2>&1 &
LOCK_PID=$!
cs_on_exit "kill \$(cat '$T/lock.sleep') $LOCK_PID 2>/dev/null"
check "sqlite3 holds the lock" cs_wait_for 10 grep -q locked "$T/lock.out"
# at_once SECONDS CMD...: the command succeeds within SECONDS (the lock
# would have made it wait 5 s, then fail).
at_once() {
	limit=$1; shift
	t0=$(date +%s%N)
	"$@" > "$T/out" 2>&1 || { cat "$T/out"; return 1; }
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "took $ms ms"
	[ "$ms" -lt $((limit * 1000)) ]
}
check "status answers at once under the lock" at_once 3 ctl status
check "... and names who holds it" \
    grep -Eq '^state store: +locked for writing by pid [0-9]+ \(sqlite3\)' "$T/out"
check "list answers at once under the lock" at_once 3 ctl list
check "show answers at once under the lock" at_once 3 ctl show "$SERIAL"
check "audit answers at once under the lock" at_once 3 ctl audit --last 5
check_fails "crl, which writes, cannot under the lock" ctl crl
last_says 'database is locked' "... and says the store is locked"
kill "$(cat "$T/lock.sleep")"
check "the lock is let go" wait "$LOCK_PID"

echo "# a store of another schema version"
V=$(sqlite3 "$DB" 'PRAGMA user_version')
sqlite3 "$DB" "PRAGMA user_version = $((V - 1))"
check_exit 69 "status on an older schema" ctl status
last_says "schema version $((V - 1)) needs migrating to $V.*start certsyncd" \
    "it says the store needs migrating, and how"
check "it did not migrate it" test "$(sqlite3 "$DB" 'PRAGMA user_version')" -eq $((V - 1))
check_exit 69 "list on an older schema" ctl list
sqlite3 "$DB" "PRAGMA user_version = $((V + 1))"
check_exit 69 "status on a newer schema" ctl status
last_says "written by a newer certsync" "it refuses a store from a newer certsync"
sqlite3 "$DB" "PRAGMA user_version = $V"
check_exit 0 "status again on its own schema" ctl status
cs_done
