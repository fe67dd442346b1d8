# tests/integration/lib.sh - shared set-up for certsync's integration tests.
#
# Owns: a private scratch directory per test (removed on exit), a working
# configuration with a fresh demo CA, and small assertion helpers.
# Never: touches anything outside the scratch directory, or skips a check
# because a tool is missing (scripts/check installs every verifier; a
# missing one is a failure, exit 99).
#
# Usage in a test:  . "$CS_SRCDIR/tests/integration/lib.sh"; cs_setup
set -eu

: "${CS_BUILDDIR:?run through make check}"
: "${CS_SRCDIR:?run through make check}"
CTL="$CS_BUILDDIR/certsyncctl"
CS_FAILS=0
CS_CHECKS=0

cs_need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || {
			echo "FATAL: $tool is not installed (scripts/check installs it)" >&2
			exit 99
		}
	done
}

# cs_on_exit COMMAND: run COMMAND (evaluated by the shell) when the test
# exits, before the scratch directory is removed; the last one registered
# runs first, and a failing one does not stop the others.
CS_ON_EXIT=
cs_on_exit() { CS_ON_EXIT="$1${CS_ON_EXIT:+; $CS_ON_EXIT}"; }

cs_setup() {
	umask 077
	T=$(mktemp -d "${TMPDIR:-/tmp}/certsync-test.XXXXXX")
	trap 'cs_rc=$?; eval "${CS_ON_EXIT:-:}" || :; [ -n "${CS_KEEP:-}" ] || rm -rf "$T"; exit $cs_rc' EXIT
	# A signal ends the test through the EXIT trap too (dash runs it only on exit).
	trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
	printf 'archive-secret-%s\n' "$$" > "$T/archive.pass"
	CONF="$T/certsync.conf"
	cat > "$CONF" <<CONF
[ca]
certificate = ca/ca.crt
key = ca/ca.key
# As root (the tests), the CA process becomes nobody; its audit log
# stays in the scratch directory.
user = nobody
audit_log = ca/audit.log
[certificates]
key_type = ${CS_KEY_TYPE:-rsa:2048}
mode = ${CS_MODE:-separate}
crl_url = http://pki.example.test/ca.crl
aia_url = http://pki.example.test/ca.crt
[archive]
directory = archive
password_file = archive.pass
profile = ${CS_P12_PROFILE:-aes256}
iterations = 2048
[keystore]
directory = keystore
[crl]
path = crl/ca.crl
pem_path = crl/ca.crl.pem
[state]
database = state/state.db
CONF
	"$CTL" -c "$CONF" init-ca --subject "CN=certsync Test CA,O=Example Test" \
	    --key-type "${CS_CA_KEY_TYPE:-ec:P-256}" >/dev/null
}

ctl() { "$CTL" -c "$CONF" "$@"; }

# The serial of the active certificate of KIND that names ADDRESS: one of
# its addresses exactly (not a substring: bob@ is not jimbob@), the domain
# compared case-insensitively since certsync lower-cases it.
cs_serial() {
	ctl list --active | awk -v k="$1" -v a="$2" '
	    function norm(s, at) {
		at = index(s, "@"); return substr(s, 1, at) tolower(substr(s, at + 1))
	    }
	    NR > 1 && $2 == k {
		for (i = 5; i <= NF; i++) {
			x = $i; sub(/,$/, "", x)
			if (norm(x) == norm(a)) { print $3; exit }
		}
	    }'
}

# The PEM of the active certificate of KIND for ADDRESS, to stdout.
cs_cert_pem() {
	serial=$(cs_serial "$1" "$2")
	[ -n "$serial" ] || { echo "no active $1 certificate for $2" >&2; return 1; }
	ctl show "$serial" --pem | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p'
}

# check "what" command...: runs the command, counts a failure if it fails.
check() {
	what=$1; shift
	CS_CHECKS=$((CS_CHECKS + 1))
	if "$@" >"$T/last.out" 2>&1; then
		echo "ok   - $what"
	else
		echo "FAIL - $what"; sed 's/^/       /' "$T/last.out"
		CS_FAILS=$((CS_FAILS + 1))
	fi
}

# check_fails "what" command...: the command must fail.
check_fails() {
	what=$1; shift
	CS_CHECKS=$((CS_CHECKS + 1))
	if "$@" >"$T/last.out" 2>&1; then
		echo "FAIL - $what (it succeeded)"; sed 's/^/       /' "$T/last.out"
		CS_FAILS=$((CS_FAILS + 1))
	else
		echo "ok   - $what"
	fi
}

# check_exit CODE "what" command...: exact exit status; output kept in $T/last.out.
check_exit() {
	want=$1 what=$2; shift 2
	CS_CHECKS=$((CS_CHECKS + 1))
	set +e; "$@" >"$T/last.out" 2>&1; got=$?; set -e
	if [ "$got" -eq "$want" ]; then
		echo "ok   - $what (exit $got)"
	else
		echo "FAIL - $what: exit $got, wanted $want"; sed 's/^/       /' "$T/last.out"
		CS_FAILS=$((CS_FAILS + 1))
	fi
}

# last_says REGEX "what": the previous check's output matches.
last_says() {
	CS_CHECKS=$((CS_CHECKS + 1))
	if grep -Eq -- "$1" "$T/last.out"; then
		echo "ok   - $2"
	else
		echo "FAIL - $2: output does not match /$1/"; sed 's/^/       /' "$T/last.out"
		CS_FAILS=$((CS_FAILS + 1))
	fi
}

cs_done() {
	echo "# $CS_CHECKS checks, $CS_FAILS failed"
	# A failed run keeps what explains it in the test's log.
	if [ "$CS_FAILS" -gt 0 ] && [ -s "$T/agent.log" ]; then
		echo "# the agent's log (last 60 lines):"
		tail -n 60 "$T/agent.log" | sed 's/^/#   /'
	fi
	[ "$CS_CHECKS" -gt 0 ] || { echo "FATAL: no checks ran" >&2; exit 99; }
	[ "$CS_FAILS" -eq 0 ]
}

# ---- the agent --------------------------------------------------------------
# After slapd_start (tests/integration/slapd.sh): point the configuration at
# the test slapd as certsync's service account.
cs_agent_conf() {
	cat >> "$CONF" <<CONF
[directory]
uri = $SLAPD_URI
base = $SLAPD_PEOPLE
bind_dn = $SLAPD_SVC_DN
bind_password_file = $SLAPD_SVC_PW_FILE
network_timeout = 5
reconnect_max = 2
CONF
}

# cs_agent_start [ARGS]: certsyncd in the foreground, in the background of
# this shell (AGENT_PID), logging to $T/agent.log; stopped on exit.
cs_agent_start() {
	"$CS_BUILDDIR/certsyncd" -c "$CONF" -f "$@" >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	cs_on_exit "kill -9 $AGENT_PID 2>/dev/null"
}

# cs_agent_stop: SIGTERM, then wait for the agent to finish its job and exit.
cs_agent_stop() {
	[ -n "${AGENT_PID:-}" ] || return 0
	kill "$AGENT_PID" 2>/dev/null || :
	wait "$AGENT_PID" 2>/dev/null || :
	AGENT_PID=
}

# cs_wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds
# or SECONDS pass.  The condition is what synchronizes, never the time; the
# bound only keeps a broken agent from hanging the suite.
cs_wait_for() {
	limit=$(( $1 * 10 )); shift
	i=0
	while [ "$i" -lt "$limit" ]; do
		"$@" >/dev/null 2>&1 && return 0
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}

# The DER values of ATTR on DN, one base64 line each, sorted (admin's view).
cs_dir_values() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" \
	    -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" -b "$1" -s base \
	    '(objectClass=*)' "$2" | sed -n "s/^$2[^:]*:: //p" | sort
}

# The store's active certificates of ADDRESS as base64 DER, sorted.
cs_store_values() {
	for s in $(ctl list --active | awk -v a="$1" 'NR > 1 {
	    for (i = 5; i <= NF; i++) { f = $i; sub(/,$/, "", f); if (f == a) { print $3; break } } }'); do
		ctl show "$s" --pem | sed -n '/BEGIN CERT/,/END CERT/p' |
		    openssl x509 -outform DER | base64 -w0; echo
	done | sort
}
