#!/bin/sh
# agent_tls_external.sh - SASL EXTERNAL with a TLS client certificate, against
# slapd (slapd.sh with SLAPD_LDAPS=1): the service account's certificate comes
# from the harness's CA, which slapd trusts (olcTLSCACertificateFile,
# olcTLSVerifyClient), and olcAuthzRegexp maps its subject to the service
# account's DN.  certsync, with no bind DN or password at all, binds as that
# account over ldaps:// and over StartTLS: slapd's log shows each bind, the
# Who am I? that certsync logs names the account, and the enrollment's write
# to userCertificate;binary, which only that account may make, succeeds.
# A tls_key_file that group or others may read is refused before any
# connection, in one line naming the file and its mode; a client certificate
# slapd does not trust (self-signed, with the same subject) gets no access,
# whether slapd ignores it (olcTLSVerifyClient try) or ends the connection
# (demand): --once says so and exits 69.  A trusted certificate that is not
# mapped binds as itself, which may not write.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need openssl ldapsearch awk
CS_KEY_TYPE=ec:P-256
SLAPD_LDAPS=1
SLAPD_DEBUG=stats  # connections, TLS and binds in $T/slapd/slapd.log
cs_setup
slapd_start

# The service account's certificate, an unmapped one from the same CA, and
# a self-signed one with the service account's subject.
AGENT_SUBJ="/O=Example Test/OU=LDAP clients/CN=certsync agent"
slapd_client_cert "$AGENT_SUBJ" "$T/agent"
slapd_client_cert "/O=Example Test/OU=LDAP clients/CN=somebody else" "$T/other"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/rogue.key" -subj "$AGENT_SUBJ" -days 2 \
    -addext extendedKeyUsage=clientAuth -out "$T/rogue.crt" 2>/dev/null
verify_client() { # try or demand
	ldap_config_modify >/dev/null <<LDIF
dn: cn=config
changetype: modify
replace: olcTLSVerifyClient
olcTLSVerifyClient: $1
LDIF
}
verify_client try
# slapd sees the subject as an LDAP DN, most specific first.
ldap_config_modify >/dev/null <<LDIF
dn: cn=config
changetype: modify
replace: olcAuthzRegexp
olcAuthzRegexp: "^cn=certsync agent,ou=ldap clients,o=example test$" "$SLAPD_SVC_DN"
LDIF
cp "$CONF" "$T/base.conf"

# ext_conf URI CERT KEY EXTRA...: EXTERNAL with that client certificate and
# key, no bind_dn and no password.
ext_conf() {
	cp "$T/base.conf" "$CONF"
	cat >> "$CONF" <<CONF
[directory]
uri = $1
base = $SLAPD_PEOPLE
network_timeout = 5
reconnect_max = 2
tls_ca_file = $SLAPD_TLS_CA
sasl_mech = EXTERNAL
tls_cert_file = $2
tls_key_file = $3
CONF
	shift 3
	for line in "$@"; do echo "$line" >> "$CONF"; done
}
# One pass (-v: the Who am I? line is info); slapd's log of the pass goes to
# $T/run.slapd.log.  Every bind slapd logs precedes its answer, so the slice
# taken after the agent exits has them all.
agent_once() {
	mark=$(wc -l < "$T/slapd/slapd.log")
	a_rc=0
	"$CS_BUILDDIR/certsyncd" -c "$CONF" --once -v || a_rc=$?
	tail -n "+$((mark + 1))" "$T/slapd/slapd.log" > "$T/run.slapd.log"
	return $a_rc
}
enrolled() { ctl list --active | grep -q " $1\$"; }
# The directory holds exactly the store's active certificates of ADDRESS.
published() { # DN ADDRESS
	cs_store_values "$2" > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	[ -s "$T/want" ] && cmp -s "$T/want" "$T/have"
}
no_certs_in_dir() { [ -z "$(cs_dir_values "$1" userCertificate)" ]; }
# How many lines of the last check's output match REGEX.
lines_with() { grep -Ec -- "$1" "$T/last.out" || :; }
# binds_ok PORT STARTTLS(yes/no): in slapd's log of the pass, there was a
# bind, and every bind was SASL EXTERNAL as the service account, on a TLS
# connection slapd accepted on 127.0.0.1:PORT (after StartTLS, or not).
binds_ok() {
	awk -v port="(IP=127.0.0.1:$1)" -v stls="$2" -v dn="dn=\"$SLAPD_SVC_DN\"" '
	    $5 == "ACCEPT" { on[$3] = ($NF == port) }
	    $5 == "EXT" && $6 == "oid=1.3.6.1.4.1.1466.20037" { starttls[$3] = 1 }
	    $5 == "TLS" && $6 == "established" { tls[$3] = 1 }
	    $5 == "BIND" && / mech=/ {
		print; n++
		if (!on[$3] || !tls[$3] || $6 != dn || $7 != "mech=EXTERNAL" ||
		    (stls == "yes") != (starttls[$3] == 1))
			bad++
	    }
	    END { print n + 0, "binds,", bad + 0, "not as wanted"; exit !(n > 0 && !bad) }
	' "$T/run.slapd.log"
}
accepted() { grep -c ' ACCEPT from ' "$T/run.slapd.log" || :; }

echo "# EXTERNAL over ldaps ($SLAPD_LDAPS_URI)"
ldap_add_user alice alice@example.test "Alice Example" Alice Example >/dev/null
ext_conf "$SLAPD_LDAPS_URI" "$T/agent.crt" "$T/agent.key"
check_exit 0 "--once with the service account's client certificate" agent_once
last_says "bound with EXTERNAL as dn:$SLAPD_SVC_DN\$" \
    "Who am I? names the service account"
check "slapd: every bind was EXTERNAL as the service account, TLS on the ldaps port" \
    binds_ok "$SLAPD_LDAPS_PORT" no
check "alice enrolled" enrolled alice@example.test
check "and her certificates are published (a write only the service account may make)" \
    published "uid=alice,$SLAPD_PEOPLE" alice@example.test

echo "# EXTERNAL over StartTLS ($SLAPD_URI)"
ldap_add_user bob bob@example.test "Bob Example" Bob Example >/dev/null
ext_conf "$SLAPD_URI" "$T/agent.crt" "$T/agent.key" "starttls = yes"
check_exit 0 "--once with StartTLS and the client certificate" agent_once
last_says "bound with EXTERNAL as dn:$SLAPD_SVC_DN\$" \
    "Who am I? names the service account"
check "slapd: every bind was EXTERNAL as the service account, after StartTLS" \
    binds_ok "$SLAPD_PORT" yes
check "bob enrolled" enrolled bob@example.test
check "and his certificates are published" published "uid=bob,$SLAPD_PEOPLE" bob@example.test

echo "# the client key is a secret file"
ldap_add_user carol carol@example.test "Carol Example" Carol Example >/dev/null
cp "$T/agent.key" "$T/open.key"
chmod 644 "$T/open.key"
ext_conf "$SLAPD_LDAPS_URI" "$T/agent.crt" "$T/open.key"
check_exit 69 "a tls_key_file that group and others may read is refused" agent_once
last_says "tls_key_file $T/open.key: mode 0644 .*chmod 600" \
    "naming the file, its mode and the fix"
n=$(lines_with "tls_key_file")
check "in one line ($n)" test "$n" -eq 1
n=$(accepted)
check "before any connection (slapd accepted $n)" test "$n" -eq 0
check_fails "carol was not enrolled" enrolled carol@example.test

echo "# a client certificate slapd does not trust"
ext_conf "$SLAPD_LDAPS_URI" "$T/rogue.crt" "$T/rogue.key"
check_exit 69 "olcTLSVerifyClient try: a self-signed one with the same subject stops --once" \
    agent_once
last_says "SASL EXTERNAL bind failed: .*does it trust the issuer of \[directory\] tls_cert_file" \
    "the reason points at the client certificate"
check_fails "slapd bound nobody" grep -q ' BIND .* mech=' "$T/run.slapd.log"
check_fails "carol was not enrolled" enrolled carol@example.test
verify_client demand
ext_conf "$SLAPD_URI" "$T/rogue.crt" "$T/rogue.key" "starttls = yes"
check_exit 69 "olcTLSVerifyClient demand: slapd ends the connection; --once stops" \
    agent_once
last_says "closed the connection after the TLS handshake: does it trust the issuer of \[directory\] tls_cert_file" \
    "the reason points at the client certificate"
check_fails "carol was not enrolled" enrolled carol@example.test
ext_conf "$SLAPD_LDAPS_URI" "$T/agent.crt" "$T/agent.key"
check_exit 0 "the service account's certificate passes demand" agent_once
check "carol enrolled and published" published "uid=carol,$SLAPD_PEOPLE" carol@example.test

echo "# a trusted certificate that maps to no account"
ldap_add_user dave dave@example.test "Dave Example" Dave Example >/dev/null
ext_conf "$SLAPD_LDAPS_URI" "$T/other.crt" "$T/other.key"
# The publish fails and the job waits for a retry: --once says so (75).
check_exit 75 "--once: the job is left unfinished (75)" agent_once
last_says "bound with EXTERNAL as dn:cn=somebody else,ou=ldap clients,o=example test\$" \
    "binds as its own subject"
last_says "publish uid=dave,.*Insufficient access" "which may not write userCertificate"
last_says "--once: 1 job\\(s\\) not finished" "and says how many jobs wait"
check "nothing is in dave's entry" no_certs_in_dir "uid=dave,$SLAPD_PEOPLE"
cs_done
