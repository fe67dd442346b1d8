#!/bin/sh
# agent_ops.sh - running certsyncd against a real slapd: the delivery hook,
# SIGHUP, SIGTERM, the poll source, command-line and configuration errors,
# and an unreachable directory.
#
# Proves that:
#  - certsyncd refuses an unknown option (exit 64, one line), a missing
#    configuration file (78, one line naming it), and with --once a
#    [directory] section without base (78, a line naming [directory] base);
#  - [daemon] delivery_hook runs once per new key (signing and encryption)
#    of a user the running agent enrolls, with CERTSYNC_UUID (the entry's
#    entryUUID), _DN, _MAIL, _KIND, _SERIAL, _KEYSTORE_FILE (a PKCS#12 file
#    that opens with _PASSWORD_FILE and holds that certificate and its key)
#    and _PASSWORD_FILE, and no password in its environment or inherited
#    descriptor to the state database, the CA key or the directory;
#  - a failing hook is logged and recorded (attempts, last error, a retry
#    scheduled later, not run again at once) and blocks no other delivery;
#    the retry itself comes 30 s later (deliver.c RETRY_FIRST), too slow to
#    wait for here, so it is not checked;
#  - a hook that hangs past [daemon] delivery_timeout = 2 is killed (with
#    whatever it started) and logged, and another user is enrolled and
#    delivered meanwhile; SIGTERM while a hook hangs still stops the agent
#    within the timeout;
#  - SIGHUP with an unknown key logs the file, the key and "not reloaded"
#    and the agent carries on; SIGHUP with a valid changed file logs
#    "configuration reloaded", resumes from the cookie and reissues nobody;
#  - SIGTERM: exit 0 within seconds, status shows the daemon stopped;
#  - [directory] source = poll, poll_interval = 5: a new user is enrolled
#    within a poll interval, a deleted one has its certificates put on hold
#    (certificateHold) after the next poll;
#  - a directory on a closed port: the agent keeps running, logs
#    "disconnected" once (not per attempt), status says disconnected, and
#    the retries use little CPU (no busy loop).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify ldapdelete openssl sqlite3 awk
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cp "$CONF" "$T/core.conf"
cs_agent_conf
# The [directory] section cs_agent_conf wrote, to build variants from.
tail -n +"$(($(wc -l < "$T/core.conf") + 1))" "$CONF" > "$T/dir.conf"
CTLD=$CS_BUILDDIR/certsyncd
ALICE="uid=alice,$SLAPD_PEOPLE"
PW=$(head -n 1 "$T/archive.pass")
SVC_PW=$(cat "$SLAPD_SVC_PW_FILE")

# use_conf DIRECTORY-KEYS OTHER-SECTIONS: installs (by rename) as $AGENT_CONF
# the test's configuration with DIRECTORY-KEYS added to [directory] (its uri
# is $DIR_URI when set) and OTHER-SECTIONS after it.  The agent reads
# AGENT_CONF; certsyncctl reads CONF, the same file except while the SIGHUP
# test has made AGENT_CONF bad.
AGENT_CONF=$CONF
use_conf() {
	{
		cat "$T/core.conf"
		sed "s|^uri = .*|uri = ${DIR_URI:-$SLAPD_URI}|" "$T/dir.conf"
		printf '%s\n' "$1" "$2"
	} > "$T/conf.new"
	mv "$T/conf.new" "$AGENT_CONF"
}

# ---- the agent's log, per phase --------------------------------------------
touch "$T/agent.log"
LOG_FROM=0
log_mark() { LOG_FROM=$(wc -l < "$T/agent.log"); }
# The log since the last log_mark.
log_now() { tail -n +"$((LOG_FROM + 1))" "$T/agent.log"; }
log_has() { log_now | grep -Eq -- "$1"; }
log_count() { log_now | grep -Ec -- "$1" || :; }
# log_count_is REGEX N: exactly N lines since the mark match.
log_count_is() {
	n=$(log_count "$1")
	echo "$n lines match /$1/, wanted $2"
	log_now | grep -E -- "$1" || :
	[ "$n" -eq "$2" ]
}

# ---- the agent process -------------------------------------------------------
agent_gone() { _slapd_gone "$AGENT_PID"; }
agent_alive() { ! agent_gone; }

# term_agent SECONDS: SIGTERM, then waits up to SECONDS for the agent to
# exit; AGENT_RC is its status, or "hung" (then it is killed).
term_agent() {
	kill -TERM "$AGENT_PID"
	if cs_wait_for "$1" agent_gone; then
		set +e; wait "$AGENT_PID"; AGENT_RC=$?; set -e
	else
		AGENT_RC=hung
		{
			echo "still running $1 s after SIGTERM; its children:"
			ps -o pid,etime,args --ppid "$AGENT_PID" || :
			echo "its threads' wait channels:"
			for t in /proc/"$AGENT_PID"/task/*; do
				printf '  %s %s\n' "$(cat "$t/comm")" "$(cat "$t/wchan")"
			done
		} > "$T/hung.txt" 2>&1
		kill -KILL "$AGENT_PID" 2>/dev/null || :
		wait "$AGENT_PID" 2>/dev/null || :
	fi
	AGENT_PID=
}
rc_is() {
	echo "status $AGENT_RC, wanted $1"
	[ "$AGENT_RC" != hung ] || cat "$T/hung.txt"
	[ "$AGENT_RC" = "$1" ]
}
status_says() {
	st_rc=0
	ctl status > "$T/status.out" 2>&1 || st_rc=$?
	grep -Eq -- "$1" "$T/status.out" && [ $st_rc -eq 0 ] && return 0
	echo "certsyncctl status (exit $st_rc):"; cat "$T/status.out"
	echo "the agent's last log lines:"; tail -n 5 "$T/agent.log"
	return 1
}

# ---- the directory -----------------------------------------------------------
mail_is() { # DN ADDRESS
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$1" "$2" |
	    ldap_admin_modify >/dev/null
}
ldap_delete() {
	LDAPNOINIT=1 ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" \
	    -y "$SLAPD_ADMIN_PW_FILE" "$1"
}
entry_uuid() { ldap_get_attr "$1" entryUUID | sed -n 's/^entryUUID: //p'; }
active_for() { ctl list --active | grep -q " $1\$"; }
crl_lists() { # SERIAL REASON
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text 2>/dev/null |
	    awk -v s="$1" '/Serial Number:/ { on = ($3 == s) } on' | grep -q "$2"
}

# ---- the delivery hook ---------------------------------------------------------
# It records each run (its environment in hook/env.SERIAL.PID, its open
# descriptors in hook/fds.PID, a line "SERIAL KIND MAIL PID" in hook.runs),
# then does what hook.mode says: ok; flaky (the first run of all fails);
# hang (an address starting with "slow" sleeps 1000 s in a child, whose
# pid, with the hook's, goes to hook.hung).
mkdir "$T/hook"
: > "$T/hook.runs"
: > "$T/hook.hung"
echo ok > "$T/hook.mode"
sed "s|@T@|$T|" > "$T/hook.sh" <<'HOOK'
#!/bin/sh
T=@T@
env > "$T/hook/env.$CERTSYNC_SERIAL.$$"
ls -l "/proc/$$/fd/" > "$T/hook/fds.$$" 2>&1
printf '%s %s %s %s\n' "$CERTSYNC_SERIAL" "$CERTSYNC_KIND" "$CERTSYNC_MAIL" $$ \
    >> "$T/hook.runs"
case $(cat "$T/hook.mode") in
flaky)	# mkdir is atomic: exactly one run, the first, fails
	if mkdir "$T/hook.failed" 2>/dev/null; then
		echo "$CERTSYNC_SERIAL" > "$T/hook.failed/serial"
		exit 1
	fi ;;
hang)	case $CERTSYNC_MAIL in
	slow*)	sleep 1000 &
		echo "$$ $!" >> "$T/hook.hung"
		wait
		exit 0 ;;
	esac ;;
esac
exit 0
HOOK
chmod 700 "$T/hook.sh"
# Whatever a hung hook left behind goes when the test ends.
cs_on_exit 'for p in $(cat "$T/hook.hung" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done'

runs_for() { awk -v m="$1" '$3 == m' "$T/hook.runs" | wc -l; }
runs_of() { awk -v s="$1" '$1 == s' "$T/hook.runs" | wc -l; }
runs_is() { n=$(runs_for "$1"); echo "$n runs for $1, wanted $2"; [ "$n" -eq "$2" ]; }
delivered() { ctl audit --last 0 | grep -Eq " deliver .* $1 delivery hook succeeded"; }
both_delivered() { # ADDRESS: its signing and encryption keys were delivered
	s=$(cs_serial signing "$1") && e=$(cs_serial encryption "$1") &&
	    [ -n "$s" ] && [ -n "$e" ] && delivered "$s" && delivered "$e"
}
env_of() { sed -n "s/^$2=//p" "$1"; }

# hook_env_ok SERIAL KIND MAIL DN UUID: the hook's environment for SERIAL.
hook_env_ok() {
	set -- "$@" "$(ls "$T/hook/env.$1".* 2>/dev/null | head -n 1)"
	[ -n "$6" ] || { echo "the hook did not run for $1"; return 1; }
	bad=0
	for want in "CERTSYNC_SERIAL=$1" "CERTSYNC_KIND=$2" "CERTSYNC_MAIL=$3" \
	    "CERTSYNC_DN=$4" "CERTSYNC_UUID=$5" \
	    "CERTSYNC_KEYSTORE_FILE=$T/keystore/$2-$1.p12" \
	    "CERTSYNC_PASSWORD_FILE=$T/archive.pass"; do
		got=$(env_of "$6" "${want%%=*}")
		[ "${want%%=*}=$got" = "$want" ] ||
		    { echo "${want%%=*} is \"$got\", wanted \"${want#*=}\""; bad=1; }
	done
	return $bad
}

# keystore_ok SERIAL: the hook's CERTSYNC_KEYSTORE_FILE opens with its
# CERTSYNC_PASSWORD_FILE and holds certificate SERIAL and a private key.
keystore_ok() {
	f=$(ls "$T/hook/env.$1".* | head -n 1)
	ks=$(env_of "$f" CERTSYNC_KEYSTORE_FILE)
	pwf=$(env_of "$f" CERTSYNC_PASSWORD_FILE)
	test -f "$ks" || { echo "$ks does not exist"; return 1; }
	openssl pkcs12 -in "$ks" -passin "file:$pwf" -nodes -out "$T/ks.pem" || return 1
	grep -q 'PRIVATE KEY' "$T/ks.pem" || { echo "no key in $ks"; return 1; }
	got=$(openssl x509 -in "$T/ks.pem" -noout -serial)
	echo "$got"
	[ "$got" = "serial=$1" ]
}

# No run of the hook saw a password, under any name.
no_password_in_env() {
	! grep -rlF -e "$PW" -e "$SVC_PW" "$T"/hook/env.* &&
	    ! grep -ih 'pass' "$T"/hook/env.* | grep -v '^CERTSYNC_PASSWORD_FILE='
}

# The hook inherited none of the agent's own descriptors: no socket (the
# directory), no event loop or signal descriptor, nothing under the state,
# CA, keystore, archive or CRL directories.  (Others it may hold come from
# the test's own environment or from the shell's redirections.)
no_inherited_fds() {
	cat "$T"/hook/fds.*
	! grep -Eh -- "-> (socket:|anon_inode:|$T/(state|ca|keystore|archive|crl)/)" \
	    "$T"/hook/fds.*
}

echo "# command line and configuration errors"
# one_line: the previous check's output was one line.
one_line() {
	cp "$T/last.out" "$T/prev.out"
	check "... reported in one line" lines_in "$T/prev.out" 1
}
lines_in() { cat "$1"; n=$(wc -l < "$1"); echo "($n lines, wanted $2)"; [ "$n" -eq "$2" ]; }
check_exit 64 "an unknown option is a usage error" "$CTLD" --bogus
last_says 'bogus' "... naming the option"
one_line
check_exit 78 "a missing configuration file" "$CTLD" -c "$T/missing.conf" -f
last_says "$T/missing.conf" "... naming the file"
one_line
{ cat "$T/core.conf"; grep -v '^base = ' "$T/dir.conf"; } > "$T/nobase.conf"
check_exit 78 "--once without [directory] base" "$CTLD" -c "$T/nobase.conf" --once
last_says '\[directory\] base' "... names [directory] base"
check "... in the only error line" test "$(grep -c 'error:' "$T/last.out")" -eq 1

echo "# the delivery hook: one run per new key, with the facts, no secret"
use_conf "" "[daemon]
delivery_hook = $T/hook.sh
delivery_timeout = 2"
log_mark
cs_agent_start
ldap_add_user alice alice@example.test "Alice Example" Alice Example >/dev/null
check "alice enrolled" cs_wait_for 30 active_for alice@example.test
check "both of alice's keys delivered" cs_wait_for 30 both_delivered alice@example.test
ALICE_UUID=$(entry_uuid "$ALICE")
A_SIG=$(cs_serial signing alice@example.test)
A_ENC=$(cs_serial encryption alice@example.test)
check "the hook ran twice for alice, once per key" runs_is alice@example.test 2
check "signing run: uuid, dn, mail, kind, serial, keystore and password files" \
    hook_env_ok "$A_SIG" signing alice@example.test "$ALICE" "$ALICE_UUID"
check "encryption run: uuid, dn, mail, kind, serial, keystore and password files" \
    hook_env_ok "$A_ENC" encryption alice@example.test "$ALICE" "$ALICE_UUID"
check "the signing keystore file opens with the password file" keystore_ok "$A_SIG"
check "the encryption keystore file opens with the password file" keystore_ok "$A_ENC"
check "no password in the hook's environment" no_password_in_env
check "the hook inherits none of the agent's descriptors" no_inherited_fds

echo "# a failing hook is logged, recorded, retried later, and blocks nobody"
echo flaky > "$T/hook.mode"
log_mark
{ ldap_add_user bob bob@example.test "Bob Builder" Bob Builder &&
  ldap_add_user carol carol@example.test "Carol Example" Carol Example; } >/dev/null
failed_and_others_done() {
	[ -f "$T/hook.failed/serial" ] && log_has 'exited with status 1' &&
	    [ "$(ctl audit --last 0 | grep -c ' deliver ')" -eq 5 ]
}
check "one run failed and the three others succeeded" cs_wait_for 30 failed_and_others_done
FAILED=$(cat "$T/hook.failed/serial" 2>/dev/null || echo none)
F_MAIL=$(awk -v s="$FAILED" '$1 == s { print $3; exit }' "$T/hook.runs")
case $F_MAIL in bob@*) OTHER=carol@example.test ;; *) OTHER=bob@example.test ;; esac
check "the failure is logged once, with the serial and the status" \
    log_count_is "warning: delivery hook for certificate $FAILED exited with status 1; retrying later" 1
delivery_row() {
	sqlite3 -readonly "$T/state/state.db" "SELECT d.attempts, d.done,
	    d.last_error, d.next_attempt - CAST(strftime('%s', 'now') AS INTEGER)
	    FROM deliveries d JOIN certificates_text c ON c.id = d.cert_id
	    WHERE c.serial = '$1'"
}
recorded_for_retry() {
	row=$(delivery_row "$FAILED")
	echo "attempts|done|last_error|retry in: $row"
	case $row in "1|0|exited with status 1|"*) ;; *) return 1 ;; esac
	[ "${row##*|}" -ge 20 ]
}
check "the failure is recorded: 1 attempt, not done, retry scheduled ~30 s on" recorded_for_retry
check "the failed key is not marked delivered" test "$(ctl audit --last 0 | grep -c " $FAILED delivery hook succeeded")" -eq 0
check "the failed key was not retried at once" test "$(runs_of "$FAILED")" -eq 1
check "the other user ($OTHER) got both keys delivered" both_delivered "$OTHER"
other_key_delivered() { # the failing user's key that did not fail
	for k in signing encryption; do
		s=$(cs_serial $k "$F_MAIL")
		[ -n "$s" ] || return 1
		[ "$s" = "$FAILED" ] || delivered "$s" || return 1
	done
}
check "the failing user's other key was delivered" other_key_delivered
check "alice's keys were not delivered again" runs_is alice@example.test 2

echo "# a hook that hangs is killed after delivery_timeout and holds up nobody"
echo hang > "$T/hook.mode"
log_mark
ldap_add_user dave slow-dave@example.test "Dave Slow" Dave Slow >/dev/null
hung_is() { [ "$(wc -l < "$T/hook.hung")" -ge "$1" ]; }
check "dave's hooks started and hang" cs_wait_for 30 hung_is 2
ldap_add_user erin erin@example.test "Erin Example" Erin Example >/dev/null
check "erin enrolled meanwhile" cs_wait_for 30 active_for erin@example.test
check "erin's keys delivered meanwhile" cs_wait_for 30 both_delivered erin@example.test
D_SIG=$(cs_serial signing slow-dave@example.test)
D_ENC=$(cs_serial encryption slow-dave@example.test)
both_killed() {
	log_has "delivery hook for certificate $D_SIG killed by signal 9" &&
	    log_has "delivery hook for certificate $D_ENC killed by signal 9"
}
check "dave's two hooks were killed" cs_wait_for 15 both_killed
check "... each logged once as running past 2s" log_count_is \
    "warning: delivery hook for certificate ($D_SIG|$D_ENC) ran past 2s; killing it" 2
check "... and once as killed, to be retried" log_count_is \
    "warning: delivery hook for certificate ($D_SIG|$D_ENC) killed by signal 9; retrying later" 2
# The order the agent itself logged: erin's certificates came before any
# kill, so her enrollment did not wait for dave's hooks.
erin_before_kill() {
	log_now | awk '/issued encryption certificate .* for erin@example.test/ { e = NR }
	    /ran past 2s/ && !k { k = NR } END { print "erin issued at line " e ", first kill at " k; exit !(e && k && e < k) }'
}
check "erin was issued while dave's hooks still hung" erin_before_kill
hook_shells_gone() { for p in $(awk '{ print $1 }' "$T/hook.hung"); do ! kill -0 "$p" 2>/dev/null || return 1; done; }
hook_children_gone() {
	left=0
	for p in $(awk '{ print $2 }' "$T/hook.hung"); do
		if kill -0 "$p" 2>/dev/null; then
			ps -o pid,ppid,etime,args -p "$p" | sed 1d
			left=1
		fi
	done
	[ $left -eq 0 ]
}
check "the hung hook processes are gone" cs_wait_for 5 hook_shells_gone
cs_wait_for 5 hook_children_gone || :
check "what the hung hooks started (their sleep) is gone too" hook_children_gone

echo "# SIGTERM while a hook hangs stops the agent within delivery_timeout"
ldap_add_user frank slow-frank@example.test "Frank Slow" Frank Slow >/dev/null
check "frank's hooks started and hang" cs_wait_for 30 hung_is 4
term_agent 10
check "the agent exited 0 within 10 s" rc_is 0
check "status shows the daemon stopped" status_says '^daemon: +stopped'
F_SIG=$(cs_serial signing slow-frank@example.test)
F_ENC=$(cs_serial encryption slow-frank@example.test)
check "frank's hooks were killed at their timeout, and logged" log_count_is \
    "warning: delivery hook for certificate ($F_SIG|$F_ENC) ran past 2s; killing it" 2

echo "# SIGHUP: a bad file is refused, a good one is applied"
use_conf "" ""
log_mark
cs_agent_start
# "running" first: the connection line may still be the last agent's, and
# a SIGHUP before the new one has its handler would kill it.
check "the agent is running" cs_wait_for 30 status_says '^daemon: +running'
check "the agent is connected" cs_wait_for 30 status_says '^connection: +connected'
cp "$AGENT_CONF" "$T/good.conf"
CONF=$T/good.conf
use_conf "" "[daemon]
bogus_key = 1"
kill -HUP "$AGENT_PID"
check "the refusal is logged" cs_wait_for 10 log_has 'not reloaded'
check "one error line names the file and the unknown key" log_count_is \
    "error: $AGENT_CONF: line [0-9]+: \\[daemon\\] bogus_key: unknown key" 1
check "one error line says the file was not reloaded" log_count_is \
    "error: $AGENT_CONF: not reloaded" 1
check "the agent keeps running" agent_alive
check "no reload was started" log_count_is 'reloading|configuration reloaded' 0
mail_is "$ALICE" alice2@example.test
check "a mail change is still handled" cs_wait_for 30 active_for alice2@example.test
ISSUED=$(ctl audit --last 0 | grep -c ' issue ')
use_conf "" "[log]
level = debug"
CONF=$AGENT_CONF
kill -HUP "$AGENT_PID"
check "the reload is logged" cs_wait_for 10 log_has 'configuration reloaded'
check "... once" log_count_is 'configuration reloaded' 1
check "the agent resumed from its cookie" cs_wait_for 30 log_has 'resuming from the stored cookie'
mail_is "$ALICE" alice3@example.test
check "a mail change after the reload is handled" cs_wait_for 30 active_for alice3@example.test
check "exactly alice's two certificates were issued since the reload" \
    test "$(ctl audit --last 0 | grep -c ' issue ')" -eq $((ISSUED + 2))
# At notice, the level until now, the agent logs no "CRL number N written".
check "the new level is in force (info lines are logged)" cs_wait_for 10 log_has 'CRL number [0-9]+ written'

echo "# SIGTERM"
check "the agent is still running" agent_alive
term_agent 15
check "the agent exited 0 within 15 s of SIGTERM" rc_is 0
check "status shows the daemon stopped" status_says '^daemon: +stopped'
check "the stop was logged" log_has 'certsyncd: stopped$'

echo "# [directory] source = poll"
use_conf "source = poll
poll_interval = 5" ""
log_mark
cs_agent_start
check "the agent polls" cs_wait_for 30 status_says '^source: +poll'
check "the first poll completed" cs_wait_for 30 log_has 'refresh complete'
T0=$(date +%s)
ldap_add_user gina gina@example.test "Gina Example" Gina Example >/dev/null
check "a new user is enrolled by the poll" cs_wait_for 20 active_for gina@example.test
ELAPSED=$(($(date +%s) - T0))
check "... within one poll interval and the job (${ELAPSED}s <= 10s)" test "$ELAPSED" -le 10
G_SIG=$(cs_serial signing gina@example.test)
G_ENC=$(cs_serial encryption gina@example.test)
ldap_delete "uid=gina,$SLAPD_PEOPLE"
cs_wait_for 20 crl_lists "$G_SIG" 'Certificate Hold' || :
# On failure: what the agent did since it started polling, and its state.
held_or_why() {
	crl_lists "$1" 'Certificate Hold' && return 0
	log_now | grep -v ' (issued|published) '
	ctl status
	ctl list | grep gina
	return 1
}
check "the deleted user's signing certificate is put on hold (certificateHold)" \
    held_or_why "$G_SIG"
check "... and the encryption certificate" crl_lists "$G_ENC" 'Certificate Hold'
check "the deleted user has no active certificate" eval '! active_for gina@example.test'
# Each poll ends with "refresh complete: P planned, S skipped, U up to
# date"; the directory never held more than 7 users (alice..gina).
poll_counts_per_poll() {
	log_now | grep 'refresh complete' | awk '{ print; n = $(NF-7) + $(NF-5) + $(NF-3) }
	    n > 7 { bad = 1 } END { exit bad }'
}
check "each poll's summary counts that poll's users only" poll_counts_per_poll
term_agent 15
check "the polling agent exited 0 on SIGTERM" rc_is 0

echo "# an unreachable directory"
PORT=
i=0
while [ $i -lt 20 ] && [ -z "$PORT" ]; do
	p=$(_slapd_random_port)
	rc=0
	LDAPNOINIT=1 ldapsearch -x -H "ldap://127.0.0.1:$p" -b "" -s base \
	    >/dev/null 2>&1 || rc=$?
	[ "$rc" -ne 255 ] || PORT=$p
	i=$((i + 1))
done
check "a closed loopback port was found" test -n "$PORT"
DIR_URI=ldap://127.0.0.1:$PORT use_conf "" ""
log_mark
cs_agent_start
check "the failure is logged" cs_wait_for 15 log_has 'disconnected'
check "status shows the agent disconnected" cs_wait_for 15 status_says '^connection: +disconnected'
# A measurement, not a synchronization: with reconnect_max = 2 the agent
# tries again at about 1, 3, 5 and 7 s; let it do so, then look.
sleep 7
check "the agent keeps running" agent_alive
check "disconnected is logged once, not once per attempt" log_count_is 'disconnected' 1
cpu_ticks() {
	t=$(sed 's/.*) //' "/proc/$AGENT_PID/stat" | awk '{ print $12 + $13 }')
	echo "utime+stime: $t ticks"
	[ "$t" -lt 100 ]
}
check "no busy loop: under 100 ticks of CPU in ~8 s of retries" cpu_ticks
check "status still says daemon running" status_says '^daemon: +running'
term_agent 15
check "the disconnected agent exited 0 on SIGTERM" rc_is 0
cs_done
