#!/bin/sh
# agent_notify.sh - certsyncd speaks systemd's notify protocol (sd_notify(3))
# to a socket the test listens on, as systemd would (PID 1 here is not
# systemd, so no unit is involved).
#
# Proves that, with NOTIFY_SOCKET naming a path and WATCHDOG_USEC=2000000:
#  - every message comes from the agent's own pid (what NotifyAccess=main
#    accepts: the listener reads the kernel's SCM_CREDENTIALS);
#  - READY=1 comes once the first connection attempt has ended, with a
#    STATUS= saying the directory is connected (syncrepl), and only once;
#  - STATUS= changes when the agent's state does (a user enrolled: "last
#    change published"), never twice in a row the same, and not while
#    nothing happens;
#  - WATCHDOG=1 comes every second (half of WATCHDOG_USEC), from the loop;
#  - SIGHUP with a valid file: RELOADING=1 with a MONOTONIC_USEC= of now
#    (CLOCK_MONOTONIC, within 2 s of the listener's clock), then READY=1
#    again; SIGHUP with a bad file: no RELOADING=1;
#  - SIGTERM: STOPPING=1, nothing after it but more STOPPING-time silence,
#    exit 0;
#  - the messages come in that order: READY, RELOADING, READY, STOPPING;
#  - the delivery hook's environment holds no NOTIFY_SOCKET or WATCHDOG_*;
# and with NOTIFY_SOCKET naming an abstract socket (@name) and a directory
# on a closed port: READY=1 still comes (the first attempt failed) with a
# STATUS= saying why, and WATCHDOG_PID naming another process means no
# WATCHDOG=1 at all; a NOTIFY_SOCKET that is neither a path nor @name gets
# one warning and the agent runs on.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify python3 awk
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cp "$CONF" "$T/core.conf"
cs_agent_conf
ldap_add_user alice alice@example.test "Alice Example" Alice Example

# The hook records its environment: the notify variables must not reach it.
cat > "$T/hook.sh" <<HOOK
#!/bin/sh
env > "$T/hook.env.\$\$"
HOOK
chmod 700 "$T/hook.sh"
printf '[daemon]\ndelivery_hook = %s\n' "$T/hook.sh" >> "$CONF"

# ---- the listener ------------------------------------------------------------
# listen.py ADDRESS OUT SECONDS: binds ADDRESS (a path, or @name for the
# abstract namespace) as systemd does (SOCK_DGRAM, SO_PASSCRED) and writes
# each datagram as one line "MONOTONIC_SECONDS SENDER_PID MESSAGE" to OUT,
# its lines joined by "|"; OUT.bound appears once it listens.  It stops by
# itself after SECONDS.
cat > "$T/listen.py" <<'PY'
import socket, struct, sys, time
addr, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".bound", "w").close()
end = time.monotonic() + limit
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        except socket.timeout:
            break
        pid = -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        text = msg.decode("utf-8", "replace").replace("\n", "|")
        f.write("%.3f %d %s\n" % (time.monotonic(), pid, text))
PY
LISTENER=
listen_on() { # ADDRESS OUT
	rm -f "$2" "$2.bound"
	python3 "$T/listen.py" "$1" "$2" 240 &
	LISTENER=$!
	cs_on_exit "kill $LISTENER 2>/dev/null"
	cs_wait_for 10 test -e "$2.bound"
}
stop_listener() { kill "$LISTENER" 2>/dev/null || :; wait "$LISTENER" 2>/dev/null || :; }
# start_with VAR=VALUE...: certsyncd in the foreground with those variables
# (env execs it: AGENT_PID is the agent's own pid).
start_with() {
	env "$@" "$CS_BUILDDIR/certsyncd" -c "$CONF" -f >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	cs_on_exit "kill -9 $AGENT_PID 2>/dev/null"
}

# ---- reading what it got -------------------------------------------------------
N=$T/notify.log
# has KEY=VALUE-REGEX: some message holds that assignment.
has() { grep -Eq "(^[0-9.]+ -?[0-9]+ |\|)$1(\||\$)" "$N"; }
count() { grep -Ec "(^[0-9.]+ -?[0-9]+ |\|)$1(\||\$)" "$N" || :; }
count_ge() { test "$(count "$1")" -ge "$2"; }	# KEY=VALUE-REGEX N
# The kinds of message, in order, one per line (READY RELOADING STOPPING).
sequence() { grep -Eo '(READY|RELOADING|STOPPING)=1' "$N" | sed 's/=1$//' | tr '\n' ' '; }
statuses() { grep -o 'STATUS=[^|]*' "$N" | sed 's/^STATUS=//'; }
all_from() { # PID: every message was sent by PID
	awk -v p="$1" '$2 != p { bad++ } END { print NR " messages, " bad+0 " from another pid"; exit !(NR > 0 && bad == 0) }' "$N"
}
no_repeat() { # no STATUS= is sent twice in a row
	statuses > "$T/st.txt"; cat "$T/st.txt"
	[ -z "$(uniq -d "$T/st.txt")" ]
}
# Seconds between consecutive WATCHDOG=1, over the last N of them.
wd_gaps() {
	grep 'WATCHDOG=1' "$N" | awk '{ if (p) printf "%.3f\n", $1 - p; p = $1 }'
}
wd_rate_ok() { # at least 4 gaps, each 0.8 .. 1.3 s
	wd_gaps > "$T/gaps.txt"; tr '\n' ' ' < "$T/gaps.txt"; echo
	awk '{ n++; if ($1 < 0.8 || $1 > 1.3) bad++ } END { exit !(n >= 4 && bad == 0) }' "$T/gaps.txt"
}

echo "# a path socket, WATCHDOG_USEC=2000000"
check "the listener is bound" listen_on "$T/notify.sock" "$N"
start_with NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=2000000
AGENT1=$AGENT_PID
check "READY=1 arrives" cs_wait_for 30 has 'READY=1'
check "... with STATUS= saying connected (syncrepl)" \
    grep -Eq 'READY=1\|STATUS=directory connected \(syncrepl\)' "$N"
check "alice is enrolled" cs_wait_for 30 sh -c "'$CTL' -c '$CONF' list --active | grep -q alice@"
check "a STATUS= says a change was published" cs_wait_for 15 has 'STATUS=directory connected \(syncrepl\); no jobs queued; last change published [0-9-]+ [0-9:]+Z'
check "WATCHDOG=1 keeps coming" cs_wait_for 15 count_ge 'WATCHDOG=1' 6
check "WATCHDOG=1 every second (half of WATCHDOG_USEC)" wd_rate_ok
S0=$(count 'STATUS=.*')
sleep 3	# a quiet spell: the assertion is that nothing is sent in it
check "no STATUS= while nothing happens ($S0 before, $(count 'STATUS=.*') after 3 s)" \
    test "$(count 'STATUS=.*')" -eq "$S0"
check "no STATUS= sent twice in a row" no_repeat
check "READY=1 only once so far" test "$(count 'READY=1')" -eq 1

echo "# SIGHUP"
cp "$CONF" "$T/good.conf"
printf '[daemon]\nbogus = 1\n' >> "$CONF"
kill -HUP "$AGENT_PID"
check "a bad file is refused" cs_wait_for 10 grep -q 'not reloaded' "$T/agent.log"
check "... and no RELOADING=1 was sent" test "$(count 'RELOADING=1')" -eq 0
cp "$T/good.conf" "$CONF"
kill -HUP "$AGENT_PID"
check "RELOADING=1 arrives" cs_wait_for 10 has 'RELOADING=1'
check "... with STATUS= reloading" has 'STATUS=reloading the configuration'
mono_ok() { # MONOTONIC_USEC is CLOCK_MONOTONIC now (the listener's clock)
	grep 'RELOADING=1' "$N" | sed -n 's/^\([0-9.]*\) .*MONOTONIC_USEC=\([0-9]*\).*/\1 \2/p' |
	    awk '{ d = $1 - $2 / 1e6; print "received at " $1 ", MONOTONIC_USEC " $2 ", " d " s apart"; exit !(d > -2 && d < 2) }'
}
check "... with MONOTONIC_USEC= of now" mono_ok
check "READY=1 again after the reload" cs_wait_for 30 count_ge 'READY=1' 2
check "... once" test "$(count 'READY=1')" -eq 2
check "the reloaded agent is connected" cs_wait_for 10 has 'STATUS=directory connected.*'

echo "# SIGTERM"
kill -TERM "$AGENT_PID"
check "STOPPING=1 arrives" cs_wait_for 20 has 'STOPPING=1'
set +e; wait "$AGENT_PID"; RC=$?; set -e
AGENT_PID=
check "the agent exited 0 ($RC)" test "$RC" -eq 0
stop_listener
check "in order: READY RELOADING READY STOPPING ($(sequence))" \
    test "$(sequence)" = "READY RELOADING READY STOPPING "
check "STOPPING=1 is the last message" sh -c "tail -n 1 '$N' | grep -q 'STOPPING=1'"
check "every message came from the agent's pid ($AGENT1)" all_from "$AGENT1"
hook_env_clean() {
	ls "$T"/hook.env.* >/dev/null 2>&1 || { echo "the hook never ran"; return 1; }
	! grep -hE '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=' "$T"/hook.env.*
}
check "the delivery hook did not inherit NOTIFY_SOCKET or WATCHDOG_*" hook_env_clean

echo "# an abstract socket, a closed port, WATCHDOG_PID of another process"
N=$T/notify2.log
PORT=$(_slapd_random_port)
sed "s|^uri = .*|uri = ldap://127.0.0.1:$PORT|" "$T/good.conf" > "$CONF"
check "the listener is bound" listen_on "@certsync-notify-$$" "$N"
start_with NOTIFY_SOCKET="@certsync-notify-$$" WATCHDOG_USEC=1000000 WATCHDOG_PID=1
check "READY=1 arrives though the directory is down" cs_wait_for 30 has 'READY=1'
check "... with STATUS= saying why" \
    grep -Eq 'READY=1\|STATUS=directory disconnected: .*retrying' "$N"
sleep 2	# the assertion is that no ping comes in it (half of WATCHDOG_USEC is 0.5 s)
check "no WATCHDOG=1 for another WATCHDOG_PID" test "$(count 'WATCHDOG=1')" -eq 0
cs_agent_stop
stop_listener

echo "# a NOTIFY_SOCKET that is not an address"
: > "$T/agent.log"
start_with NOTIFY_SOCKET=relative/notify.sock
warned() { grep -q 'NOTIFY_SOCKET is neither an absolute path nor an @abstract name' "$T/agent.log"; }
check "a warning names the variable" cs_wait_for 10 warned
check "... once" test "$(grep -c 'NOTIFY_SOCKET is neither' "$T/agent.log")" -eq 1
check "the agent runs on" cs_wait_for 10 sh -c "'$CTL' -c '$CONF' status | grep -q '^connection: .*disconnected'"
cs_agent_stop
cs_done
