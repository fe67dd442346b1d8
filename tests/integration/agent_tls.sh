#!/bin/sh
# agent_tls.sh - the directory connection over TLS, StartTLS and ldaps://
# (slapd.sh's server certificate, SLAPD_LDAPS=1): with the server's CA in
# [directory] tls_ca_file the agent connects and enrolls; with a CA that did
# not sign the server's certificate it refuses to connect (verification is on
# by default) and --once says so in one line and exits 69; with tls_verify =
# no it connects anyway (an explicit opt-out).  Over ldaps:// a failed
# handshake (wrong CA, a port that does not speak TLS) is told apart from a
# refused connection.  Client certificates, SASL EXTERNAL:
# agent_tls_external.sh.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need openssl ldapsearch awk
CS_KEY_TYPE=ec:P-256
SLAPD_LDAPS=1
cs_setup
slapd_start

# A CA that did not sign the server's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/other.key" -subj "/CN=Some Other CA" -days 2 -out "$T/other.crt" 2>/dev/null
ldap_add_user alice alice@example.test "Alice Example" Alice Example >/dev/null
cp "$CONF" "$T/base.conf"

# tls_conf URI EXTRA...: the configuration with that uri and the given lines.
tls_conf() {
	cp "$T/base.conf" "$CONF"
	cs_agent_conf
	sed -i "s|^uri = .*|uri = $1|" "$CONF"
	shift
	for line in "$@"; do echo "$line" >> "$CONF"; done
}
agent_once() { "$CS_BUILDDIR/certsyncd" -c "$CONF" --once; }
enrolled() { ctl list --active | grep -q " $1\$"; }
# The directory holds exactly the store's active certificates of ADDRESS.
published() { # DN ADDRESS
	cs_store_values "$2" > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	[ -s "$T/want" ] && cmp -s "$T/want" "$T/have"
}
# How many lines of the last check's output match REGEX.
lines_with() { grep -Ec -- "$1" "$T/last.out" || :; }

echo "# StartTLS on $SLAPD_URI"
tls_conf "$SLAPD_URI" "starttls = yes" "tls_ca_file = $T/other.crt"
check_exit 69 "an untrusted server certificate stops --once" agent_once
last_says "cannot complete the pass: StartTLS failed: .*tls_ca_file" "the reason points at the certificate check"
check_fails "nothing was enrolled" enrolled alice@example.test

tls_conf "$SLAPD_URI" "starttls = yes" "tls_ca_file = $SLAPD_TLS_CA"
check_exit 0 "StartTLS with the server's CA" agent_once
check "alice enrolled over StartTLS" enrolled alice@example.test
check "alice's certificates are published" published "uid=alice,$SLAPD_PEOPLE" alice@example.test

tls_conf "$SLAPD_URI" "starttls = yes" "tls_ca_file = $T/other.crt" "tls_verify = no"
check_exit 0 "tls_verify = no connects to an unverified server" agent_once

echo "# ldaps on $SLAPD_LDAPS_URI"
ldap_add_user bob bob@example.test "Bob Example" Bob Example >/dev/null
# The ldaps listener, like the other, is on 127.0.0.1 only.
ldaps_listeners() {
	hex=$(printf '%04X' "$SLAPD_LDAPS_PORT")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }'
}
check "the ldaps listener is on 127.0.0.1:$SLAPD_LDAPS_PORT and on no other address" \
    test "$(ldaps_listeners)" = "0100007F:$(printf '%04X' "$SLAPD_LDAPS_PORT")"

tls_conf "$SLAPD_LDAPS_URI" "tls_ca_file = $T/other.crt"
check_exit 69 "ldaps: an untrusted server certificate stops --once" agent_once
last_says "cannot complete the pass: TLS handshake failed.*tls_ca_file" \
    "the reason is the handshake, pointing at tls_ca_file (not a failed bind)"
n=$(lines_with "tls_ca_file")
check "and it is one line ($n)" test "$n" -eq 1
check_fails "bob was not enrolled" enrolled bob@example.test

tls_conf "ldaps://127.0.0.1:$SLAPD_PORT" "tls_ca_file = $SLAPD_TLS_CA"
check_exit 69 "ldaps to a port that does not speak TLS stops --once" agent_once
last_says "cannot complete the pass: TLS handshake failed" "as a failed handshake"

tls_conf "$SLAPD_LDAPS_URI" "tls_ca_file = $SLAPD_TLS_CA"
check_exit 0 "ldaps with the server's CA" agent_once
check "bob enrolled over ldaps" enrolled bob@example.test
check "bob's certificates are published" published "uid=bob,$SLAPD_PEOPLE" bob@example.test

tls_conf "$SLAPD_LDAPS_URI" "tls_ca_file = $T/missing.crt"
check_exit 69 "a tls_ca_file that does not exist stops --once" agent_once
last_says "tls_ca_file $T/missing.crt: No such file or directory" "naming the file"

slapd_stop
tls_conf "$SLAPD_LDAPS_URI" "tls_ca_file = $SLAPD_TLS_CA"
check_exit 69 "ldaps with slapd stopped stops --once" agent_once
last_says "cannot complete the pass: cannot connect: Can't contact LDAP server\$" \
    "as a refused connection, not as a TLS problem"
cs_done
