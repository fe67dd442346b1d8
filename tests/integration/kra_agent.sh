#!/bin/sh
# kra_agent.sh - certsyncd against a real slapd with recovery agents: it
# loads them at start and on SIGHUP, and the archive files it writes open
# only with the officers' keys.
#
# Proves that:
#  - certsyncd refuses to start (exit 78) with one line each for a quorum
#    above the number of agents, an agent file with a 1024-bit key (the line
#    names the file), and a pattern matching no file;
#  - running with 2 of 3 agents, an address change makes it archive the old
#    keys with a bundle beside each; two officers open their envelopes from
#    the bundle with openssl asn1parse and cms -decrypt, certsyncctl recover
#    --combine rebuilds the password, openssl pkcs12 opens the file with it,
#    and mail sent to the superseded certificate before the change
#    decrypts; one officer's share alone does not open it; the password is
#    nowhere on the host (the agent's log, the store and its dump, the
#    archive and keystore: grep -i);
#  - SIGHUP with an agent pattern that matches nothing, or a quorum of 4 for
#    3 agents, is refused with a line naming the problem and "not
#    reloaded", and the agent keeps running; SIGHUP with a fourth agent and
#    a quorum of 1 is applied: the next archive file's bundle holds 4
#    envelopes, any 1 of which opens it (show, and dave alone).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify openssl sqlite3
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
OFF=$T/officers
mkdir -p "$T/kra" "$T/kra2" "$T/bad" "$OFF"
cp "$T/archive.pass" "$T/keystore.pass"
agent() { # DIR NAME NEWKEY-ARGS...
	d=$1 n=$2; shift 2
	openssl req -x509 -nodes -newkey "$@" -subj "/CN=$n (recovery agent)" \
	    -days 30 -keyout "$OFF/$n.key" -out "$T/$d/$n.pem" 2>/dev/null
}
agent kra alice rsa:2048
agent kra bob rsa:2048
agent kra carol ec -pkeyopt ec_paramgen_curve:P-256
cp "$T/kra"/*.pem "$T/kra2/"
agent kra2 dave ec -pkeyopt ec_paramgen_curve:P-384
cp "$T/kra"/*.pem "$T/bad/"
openssl req -x509 -nodes -newkey rsa:1024 -subj "/CN=small" -days 30 \
    -keyout /dev/null -out "$T/bad/small.pem" 2>/dev/null

cp "$CONF" "$T/base.conf"
# use PATTERN QUORUM: the agent's configuration, recovery agents only.
use() {
	{
		awk -v p="$1" -v q="$2" '/^password_file = / { next } { print }
		    /^\[archive\]$/ { print "recovery_agents = " p; print "recovery_quorum = " q }
		    /^\[keystore\]$/ { print "password_file = keystore.pass" }' "$T/base.conf"
		cat "$T/dir.conf"
	} > "$T/conf.new"
	mv "$T/conf.new" "$CONF"
}
CONF_SAVED=$CONF; CONF=$T/dir.conf; : > "$CONF"; cs_agent_conf; CONF=$CONF_SAVED

touch "$T/agent.log"
LOG_FROM=0
log_mark() { LOG_FROM=$(wc -l < "$T/agent.log"); }
log_now() { tail -n +"$((LOG_FROM + 1))" "$T/agent.log"; }
log_has() { log_now | grep -Eq -- "$1"; }
log_count_is() { # REGEX N
	n=$(log_now | grep -Ec -- "$1" || :)
	echo "$n lines match /$1/, wanted $2"; log_now | grep -E -- "$1" || :
	[ "$n" -eq "$2" ]
}
agent_alive() { ! _slapd_gone "$AGENT_PID"; }

# ---- refused at start ----------------------------------------------------------
# start_refused WHAT: certsyncd --once exits 78 with exactly one error line.
start_refused() {
	s_rc=0
	"$CS_BUILDDIR/certsyncd" -c "$CONF" --once > "$T/start.out" 2>&1 || s_rc=$?
	cat "$T/start.out"
	[ $s_rc -eq 78 ] && [ "$(grep -c 'error:' "$T/start.out")" -eq 1 ] &&
	    grep -Fq -- "$1" "$T/start.out"
}
use "kra/*.pem" 4
check "a quorum of 4 for 3 agents stops the start (78, one line)" start_refused \
    "$CONF: [archive] recovery_quorum: 4 is more than the 3 recovery agent(s)"
use "bad/*.pem" 2
check "a 1024-bit agent stops the start, naming its file" start_refused \
    "$T/bad/small.pem: RSA key of 1024 bits"
use "none/*.pem" 1
check "a pattern matching nothing stops the start" start_refused \
    "[archive] recovery_agents: no file matches $T/none/*.pem"
check "nothing was enrolled meanwhile" test ! -e "$T/keystore"

# ---- archiving, 2 of 3 -----------------------------------------------------------
use "kra/*.pem" 2
ldap_add_user dora dora@example.test "Dora Example" >/dev/null
log_mark
cs_agent_start
check "the agent says how the archive is protected" cs_wait_for 30 \
    log_has 'archive: each file.s password goes to 3 recovery agent\(s\), any 2 of whom'
active() { ctl list --active | grep -q " $1\$"; }
check "dora is enrolled" cs_wait_for 30 active dora@example.test
E0=$(cs_serial encryption dora@example.test)
cs_cert_pem encryption dora@example.test > "$OFF/dora.pem"
printf 'to dora, before her move\n' > "$OFF/m.txt"
openssl cms -encrypt -aes256 -binary -in "$OFF/m.txt" -out "$OFF/m.p7m" "$OFF/dora.pem"
printf 'dn: uid=dora,%s\nchangetype: modify\nreplace: mail\nmail: dora.new@example.test\n' \
    "$SLAPD_PEOPLE" | ldap_admin_modify >/dev/null
A0=$T/archive/encryption-$E0.p12
recorded() { # SERIAL
	[ "$(sqlite3 "$T/state/state.db" "SELECT archive_protection FROM certificates_text
	    WHERE serial = '$1'")" = recovery-agents ]
}
check "the agent archives dora's old encryption key under the agents" \
    cs_wait_for 30 recorded "$E0"
check "... with its bundle beside it" test -s "$A0.kra"

# own_share NAME BUNDLE OUT: officer NAME's envelope out of the bundle (the
# SEQUENCE after their fingerprint), decrypted to OUT.
own_share() {
	fp=$(openssl x509 -in "$T/kra2/$1.pem" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g')
	off=$(openssl asn1parse -inform DER -in "$2" |
	    awk -v fp="$fp" 'hit { sub(/:.*/, ""); print $1; exit }
	        index($0, "[HEX DUMP]:" fp) { hit = 1 }')
	[ -n "$off" ] &&
	openssl asn1parse -inform DER -in "$2" -strparse "$off" -noout -out "$OFF/$1.cms" &&
	openssl cms -decrypt -inform DER -in "$OFF/$1.cms" -inkey "$OFF/$1.key" \
	    -recip "$T/kra2/$1.pem" -out "$3"
}
check "bob opens his envelope from the bundle" own_share bob "$A0.kra" "$OFF/bob.der"
check "carol opens hers" own_share carol "$A0.kra" "$OFF/carol.der"
openssl asn1parse -inform DER -in "$OFF/bob.der" | tail -n 1 |
    sed -n 's/.*\[HEX DUMP\]://p' > "$OFF/bob.share"
check_fails "bob's share alone does not open the file" \
    openssl pkcs12 -in "$A0" -passin "file:$OFF/bob.share" -noout
check_exit 0 "certsyncctl recover --combine bob's and carol's shares" \
    sh -c '"$1" recover --combine "$2" "$3" > "$4"' sh "$CTL" "$OFF/bob.der" \
    "$OFF/carol.der" "$OFF/pw"
check "openssl pkcs12 opens dora's archive file with the password" \
    openssl pkcs12 -in "$A0" -passin "file:$OFF/pw" -nodes -nocerts -out "$OFF/k.pem"
check "the key decrypts the mail sent before the move" sh -c \
    'openssl cms -decrypt -binary -in "$1" -inkey "$2" | cmp - "$3"' sh \
    "$OFF/m.p7m" "$OFF/k.pem" "$OFF/m.txt"

# Outside the officers' directory, nothing on the host holds the password:
# not the agent's log, the store (nor its dump), the archive or keystore.
no_password_on_host() {
	sqlite3 "$T/state/state.db" .dump > "$T/state.dump"
	! grep -rilF -- "$(cat "$OFF/pw")" "$T" --exclude-dir=officers
}
check "the agent's log, the store and the files hold no archive password" \
    no_password_on_host
check "(the same grep finds it in the officers' directory)" \
    grep -rqF -- "$(cat "$OFF/pw")" "$OFF"

# ---- SIGHUP ----------------------------------------------------------------------
log_mark
use "none/*.pem" 1
kill -HUP "$AGENT_PID"
check "SIGHUP with no agent files: refused" cs_wait_for 10 log_has 'not reloaded'
check "... one line says why" log_count_is \
    "$CONF: \\[archive\\] recovery_agents: no file matches" 1
check "the agent keeps running" agent_alive
log_mark
use "kra/*.pem" 4
kill -HUP "$AGENT_PID"
check "SIGHUP with a quorum of 4 for 3 agents: refused" cs_wait_for 10 log_has 'not reloaded'
check "... one line says why" log_count_is "recovery_quorum: 4 is more than the 3" 1
check "the agent keeps running" agent_alive
log_mark
use "kra2/*.pem" 1
kill -HUP "$AGENT_PID"
check "SIGHUP with four agents, any one: reloaded" cs_wait_for 10 log_has 'configuration reloaded'
check "... and the agents with it" cs_wait_for 10 \
    log_has 'goes to 4 recovery agent\(s\), any 1 of whom'
check "the agent is connected again" cs_wait_for 30 \
    sh -c '"$1" -c "$2" status | grep -Eq "^connection: +connected"' sh "$CTL" "$CONF"
E1=$(cs_serial encryption dora.new@example.test)
printf 'dn: uid=dora,%s\nchangetype: modify\nreplace: mail\nmail: dora.third@example.test\n' \
    "$SLAPD_PEOPLE" | ldap_admin_modify >/dev/null
check "the next change archives under the new agents" cs_wait_for 30 recorded "$E1"
check_exit 0 "show $E1" ctl show "$E1"
last_says '^Protected by: +recovery agents, any 1 of 4' "show: any 1 of 4"
A1=$T/archive/encryption-$E1.p12
check "dave (added by the reload) opens his envelope" own_share dave "$A1.kra" "$OFF/dave.der"
openssl asn1parse -inform DER -in "$OFF/dave.der" | tail -n 1 |
    sed -n 's/.*\[HEX DUMP\]://p' > "$OFF/dave.pw"
check "dave alone opens the file" openssl pkcs12 -in "$A1" -passin "file:$OFF/dave.pw" -noout
cs_agent_stop
cs_done
