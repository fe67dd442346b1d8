#!/bin/sh
# agent_fault_dir.sh - the directory fails in the middle of a mass reissue
# of FAULT_USERS (100) users: slapd frozen (SIGSTOP) for 12 s, then slapd
# killed and started again 10 s later.
#
# Frozen: a stopped slapd still accepts TCP connections and its kernel
# acknowledges keepalives, so only an answer shows it is alive.  The
# issue's 40 s freeze is 12 s here: with [directory] idle_probe = 2 and
# network_timeout = 3 it is found within 5 s, and the rest shows the
# backoff holding (jobs and reconnects); a longer freeze only repeats it.
# Proves, for each fault:
#  - it is found and logged ("not answering since" for the freeze, within
#    idle_probe + network_timeout; "disconnected" for the kill), and
#    certsyncctl status says so while it lasts;
#  - the backoff holds: the jobs' retry lines during the fault are at most
#    30 a minute (every job fails: without the runner's hold this was one
#    line per user), no line repeats more than 5 times, and the connection
#    state is logged a few times, not per attempt;
#  - afterwards every user has its certificates for the new address and
#    nothing is lost, stale, doubled or revoked twice (fault_verdict);
# and, last, that a server that accepts the connection and then fails the
# search (a base that names no entry) is retried with a growing backoff:
# the backoff starts over only once a connection has recorded changes,
# not at every successful bind.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
. "$CS_SRCDIR/tests/integration/faults.sh"
fault_setup

echo "# slapd frozen (SIGSTOP) during a mass reissue"
FREEZE=12
fault_reissue two.test
check "the reissue is under way" cs_wait_for 60 fault_some_moved two.test 20
fault_start
kill -STOP "$SLAPD_PID"
cs_on_exit "kill -CONT $SLAPD_PID 2>/dev/null"
check "the hung watching connection is found by its probe" \
    within 10 log_has 'not answering since .*no answer to a probe within 3s'
check "status says the directory is not answering, and since when" \
    within 5 status_says '^connection: +not answering since [0-9-]+ [0-9:]+ UTC'
check "status lists the failing jobs with their last error" \
    within 15 status_says '^  uid=fu[0-9]+,.*failed attempt'
while [ $(($(date +%s) - FAULT_T0)) -lt "$FREEZE" ]; do sleep 1; done
fault_end
kill -CONT "$SLAPD_PID"
check "after the thaw every user is reissued" fault_wait_moved two.test 120
check "the jobs' retries held back: at most 30 a minute" \
    fault_rate_at_most 'retried in|jobs wait' 30
check "the connection state logged a few times, not per attempt" \
    log_at_most 'directory .*(not answering|disconnected)' 4
check "no line repeated more than 5 times" log_no_storm 5
check "status says connected again" status_says '^connection: +connected'
check "nothing lost, stale or doubled; no revoke churn" fault_verdict two.test 1 0

echo "# slapd killed during a mass reissue, back 10 s later"
fault_reissue three.test
check "the reissue is under way" cs_wait_for 60 fault_some_moved three.test 20
fault_start
slapd_kill
check "the loss is logged" within 10 log_has 'disconnected: .*down since'
check "status says disconnected" within 5 status_says '^connection: +disconnected'
while [ $(($(date +%s) - FAULT_T0)) -lt 10 ]; do sleep 1; done
fault_end
check "slapd starts again on its port" slapd_restart
check "then every user is reissued" fault_wait_moved three.test 120
check "the jobs' retries held back: at most 30 a minute" \
    fault_rate_at_most 'retried in|jobs wait' 30
check "the connection state logged a few times, not per attempt" \
    log_at_most 'directory .*(not answering|disconnected)' 4
check "no line repeated more than 5 times" log_no_storm 5
check "nothing lost, stale or doubled; no revoke churn" fault_verdict three.test 2 0
check "the agent ran throughout" agent_alive

echo "# a server that accepts the connection and then fails the search"
# base names no entry: the bind works, the search ends in noSuchObject.
# The backoff must not start over at each successful bind.
cs_agent_stop
sed "s|^base = .*|base = ou=gone,$SLAPD_BASE|" "$CONF" > "$T/gone.conf"
log_mark
"$CS_BUILDDIR/certsyncd" -c "$T/gone.conf" -f >> "$T/agent.log" 2>&1 &
AGENT_PID=$!
cs_on_exit "kill -9 $AGENT_PID 2>/dev/null"
check "the failure is logged" within 10 log_has 'disconnected: No such object'
T0=$(date +%s)
while [ $(($(date +%s) - T0)) -lt 15 ]; do sleep 1; done
check "it reconnects with backoff (1, 2, 4, 4 s ...), not every second" \
    log_at_most 'directory .*: connected; ' 7
check "status says why" status_says '^connection: +disconnected: No such object'
cs_done
