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

cs_setup() {
	umask 077
	T=$(mktemp -d "${TMPDIR:-/tmp}/certsync-test.XXXXXX")
	trap 'rc=$?; [ -n "${CS_KEEP:-}" ] || rm -rf "$T"; exit $rc' EXIT
	printf 'archive-secret-%s\n' "$$" > "$T/archive.pass"
	CONF="$T/certsync.conf"
	cat > "$CONF" <<CONF
[ca]
certificate = ca/ca.crt
key = ca/ca.key
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

# The PEM of the active certificate of KIND for ADDRESS, to stdout.
cs_cert_pem() {
	serial=$(ctl list --active | awk -v k="$1" -v a="$2" \
	    '$2 == k && index($0, a) { print $3; exit }')
	[ -n "$serial" ] || { echo "no active $1 certificate for $2" >&2; return 1; }
	ctl show "$serial" --pem | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p'
}

# The serial of the active certificate of KIND for ADDRESS.
cs_serial() {
	ctl list --active | awk -v k="$1" -v a="$2" '$2 == k && index($0, a) { print $3; exit }'
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
	[ "$CS_CHECKS" -gt 0 ] || { echo "FATAL: no checks ran" >&2; exit 99; }
	[ "$CS_FAILS" -eq 0 ]
}
