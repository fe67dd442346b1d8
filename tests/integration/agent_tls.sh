#!/bin/sh
# agent_tls.sh - the directory connection over StartTLS: with the server's
# CA in [directory] tls_ca_file the agent connects and enrolls; with a CA
# that did not sign the server's certificate it refuses to connect
# (verification is on by default) and --once says so and exits 69; with
# tls_verify = no it connects anyway (an explicit opt-out).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need openssl ldapsearch
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start

# A server certificate for 127.0.0.1 from the test CA, and an unrelated CA.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/server.key" -subj "/CN=127.0.0.1" -out "$T/server.csr" 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' > "$T/server.ext"
openssl x509 -req -in "$T/server.csr" -CA "$T/ca/ca.crt" -CAkey "$T/ca/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/server.ext" -out "$T/server.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/other.key" -subj "/CN=Some Other CA" -days 2 -out "$T/other.crt" 2>/dev/null
ldap_config_modify >/dev/null <<LDIF
dn: cn=config
changetype: modify
replace: olcTLSCertificateFile
olcTLSCertificateFile: $T/server.crt
-
replace: olcTLSCertificateKeyFile
olcTLSCertificateKeyFile: $T/server.key
LDIF
ldap_add_user alice alice@example.test "Alice Example" Alice Example >/dev/null
cp "$CONF" "$T/base.conf"

# tls_conf EXTRA...: the configuration with StartTLS and the given lines.
tls_conf() {
	cp "$T/base.conf" "$CONF"
	cs_agent_conf
	echo "starttls = yes" >> "$CONF"
	for line in "$@"; do echo "$line" >> "$CONF"; done
}
agent_once() { "$CS_BUILDDIR/certsyncd" -c "$CONF" --once; }
enrolled() { ctl list --active | grep -q ' alice@example.test$'; }

tls_conf "tls_ca_file = $T/other.crt"
check_exit 69 "an untrusted server certificate stops --once" agent_once
last_says "cannot complete the pass: StartTLS failed: .*tls_ca_file" "the reason points at the certificate check"
check_fails "nothing was enrolled" enrolled

tls_conf "tls_ca_file = $T/ca/ca.crt"
check_exit 0 "StartTLS with the server's CA" agent_once
check "alice enrolled over TLS" enrolled
check "alice's certificates are published" sh -c "[ -n \"\$(LDAPNOINIT=1 ldapsearch -LLL -x -H '$SLAPD_URI' -D '$SLAPD_ADMIN_DN' -y '$SLAPD_ADMIN_PW_FILE' -b 'uid=alice,$SLAPD_PEOPLE' 'userCertificate;binary=*' dn)\" ]"

tls_conf "tls_ca_file = $T/other.crt" "tls_verify = no"
check_exit 0 "tls_verify = no connects to an unverified server" agent_once

# The client key of SASL EXTERNAL over TLS is a secret: refused if readable.
cp "$T/other.key" "$T/client.key"; chmod 644 "$T/client.key"
tls_conf "tls_ca_file = $T/ca/ca.crt" "tls_cert_file = $T/other.crt" "tls_key_file = $T/client.key"
check_exit 69 "a group/other-readable tls_key_file is refused" agent_once
last_says "tls_key_file .*mode 0644" "the refusal names the file and its mode"
cs_done
