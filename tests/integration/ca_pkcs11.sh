#!/bin/sh
# ca_pkcs11.sh - certsync with its CA key in a PKCS#11 token (SoftHSM2).
#
# Proves, with a token made by tests/integration/softhsm.sh and an EC P-256
# key generated inside it by pkcs11-tool: certsyncctl init-ca self-signs
# the CA certificate with the token key (a CA:TRUE certificate whose public
# key is the token's, verifying as its own issuer; no key file written; a
# second init-ca refused); issue, reissue, revoke and crl work through the
# CA process with the token key (certificates verify for S/MIME, the CRL's
# signature verifies, openssl verify -crl_check refuses the revoked one);
# the CA process's audit log names the token key; a wrong PIN stops
# certsyncctl with 78 and one line, without the PIN; certsyncd enrolls and
# reissues a user of a real slapd with the token key; and when the CA
# process, killed, meets a wrong PIN on its restart, certsyncd says so once,
# shows "stopped" in its status and never tries the PIN again (the token
# would lock it), until the PIN file is fixed and SIGHUP brings it back.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/softhsm.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need openssl pkcs11-tool ldapmodify pgrep
CS_KEY_TYPE=ec:P-256
cs_setup
softhsm_setup
softhsm_keygen certsync-ca EC:prime256v1
# Under ASan, LeakSanitizer's stacks for libp11 (tests/lsan.supp).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export ASAN_OPTIONS
# SoftHSM2 reads its object files again for every signature: the CA
# process, once it is [ca] user (nobody), must still reach them.  An admin
# makes the token directory the certsync user's.
if [ "$(id -u)" -eq 0 ]; then
	chmod o+x "$T" "$T/softhsm"
	chown -R nobody "$T/softhsm/tokens"
fi

TCONF=$T/token.conf
URI=$(softhsm_uri certsync-ca)
sed -e "s|^certificate = ca/ca.crt\$|certificate = token/ca.crt|" \
    -e "s|^key = ca/ca.key\$|key = \"$URI\"\\npin_file = $SOFTHSM_PIN_FILE\\npkcs11_module = $SOFTHSM_MODULE|" \
    -e "s|^audit_log = ca/audit.log\$|audit_log = token/audit.log|" \
    -e "s|^database = state/state.db\$|database = token/state.db|" \
    -e "s|^path = crl/ca.crl\$|path = token/ca.crl|" \
    -e "s|^pem_path = .*|pem_path = token/ca.crl.pem|" "$CONF" > "$TCONF"
tctl() { "$CTL" -c "$TCONF" "$@"; }
PIN=$(cat "$SOFTHSM_PIN_FILE")

echo "# init-ca with the key in the token"
check "init-ca self-signs with the token key" tctl init-ca --subject "CN=certsync Token CA,O=Example Test"
last_says "CA key: +pkcs11:token=$SOFTHSM_TOKEN;object=certsync-ca;type=private \\(in the token\\)" \
    "... and says the key is in the token"
check "... no key file was written" test ! -e "$T/token/ca.key"
check "... the certificate is a CA's" sh -c \
    'openssl x509 -in "$1" -noout -ext basicConstraints | grep -q "CA:TRUE"' sh "$T/token/ca.crt"
check "... it verifies as its own issuer" openssl verify -CAfile "$T/token/ca.crt" "$T/token/ca.crt"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$SOFTHSM_TOKEN" --read-object \
    --type pubkey --label certsync-ca -o "$T/token.pub.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$T/token.pub.der" -out "$T/token.pub.pem"
openssl x509 -in "$T/token/ca.crt" -noout -pubkey > "$T/cert.pub.pem"
check "... its public key is the token's" cmp "$T/token.pub.pem" "$T/cert.pub.pem"
check_exit 73 "a second init-ca is refused" tctl init-ca

echo "# issue, reissue, revoke, CRL through the CA process"
check "issue alice" tctl issue alice@example.test --name "Alice Example"
tctl list --active | awk '$2 == "signing" { print $3 }' > "$T/s1"
tctl show "$(cat "$T/s1")" --pem | sed -n '/BEGIN CERT/,/END CERT/p' > "$T/alice.pem"
check "... her certificate verifies for S/MIME signing" \
    openssl verify -CAfile "$T/token/ca.crt" -purpose smimesign "$T/alice.pem"
check "reissue alice" tctl issue alice.smith@example.test --name "Alice Smith" \
    --user alice@example.test
check "... the CRL's signature verifies" \
    openssl crl -inform DER -in "$T/token/ca.crl" -CAfile "$T/token/ca.crt" -noout
cat "$T/token/ca.crt" "$T/token/ca.crl.pem" > "$T/chain.pem"
check_fails "... and openssl verify -crl_check refuses the old certificate" \
    openssl verify -crl_check -CAfile "$T/chain.pem" "$T/alice.pem"
last_says "certificate revoked" "... as revoked"
s2=$(tctl list --active | awk '$2 == "encryption" { print $3 }')
check "revoke the new encryption certificate" tctl revoke "$s2" --reason keyCompromise
check "... the CRL lists it" sh -c \
    'openssl crl -inform DER -in "$1" -noout -text | grep -q "$2"' sh "$T/token/ca.crl" "$s2"
check "the audit log names the token key" grep -q "	start	.*key=$URI" "$T/token/audit.log"
check "... and holds 4 signatures" test "$(grep -c '	sign	' "$T/token/audit.log")" -eq 4

echo "# a wrong PIN"
printf '%s' 00000000 > "$T/wrong.pin"
sed "s|^pin_file = .*|pin_file = $T/wrong.pin|" "$TCONF" > "$T/wrong.conf"
check_exit 78 "certsyncctl crl with a wrong PIN stops with 78" "$CTL" -c "$T/wrong.conf" crl
last_says "the token refused the PIN" "... saying the token refused the PIN"
cp "$T/last.out" "$T/wrong.out"
check "... in one line" test "$(wc -l < "$T/wrong.out")" -eq 1
check "... without the PIN" sh -c '! grep -qF "$1" "$2"' sh "$PIN" "$T/wrong.out"

echo "# certsyncd with the token key"
slapd_start
CONF=$TCONF cs_agent_conf
ldap_add_user bob bob@example.test "Bob Builder" Bob Builder
CONF=$TCONF cs_agent_start
active_for() { tctl list --active | grep -q " $1\$"; }
check "bob enrolled" cs_wait_for 60 active_for bob@example.test
OLD=$(tctl list --active | awk '$5 == "bob@example.test" && $2 == "encryption" { print $3 }')
printf 'dn: uid=bob,%s\nchangetype: modify\nreplace: mail\nmail: bob.b@example.test\n' \
    "$SLAPD_PEOPLE" | ldap_admin_modify >/dev/null
check "bob reissued live" cs_wait_for 60 active_for bob.b@example.test
check "... his old certificate on the CRL" cs_wait_for 30 sh -c \
    'openssl crl -inform DER -in "$1" -noout -text | grep -q "$2"' sh "$T/token/ca.crl" "$OLD"

echo "# the CA process restarts into a wrong PIN: stopped, never retried"
cp "$SOFTHSM_PIN_FILE" "$T/good.pin"
printf '%s' 00000000 > "$SOFTHSM_PIN_FILE"
kill -9 "$(pgrep -P "$AGENT_PID" -x certsync-ca)"
stopped() { tctl status | grep -Eq '^CA process: +stopped: .*token refused the PIN'; }
check "status says the CA process is stopped, and why" cs_wait_for 15 stopped
sleep_rounds() { n=0; while [ $n -lt 30 ]; do n=$((n + 1)); sleep 0.1; done; }
sleep_rounds	# 3 s: a restart with backoff would have come by now
check "the PIN was tried once, not again" \
    test "$(grep -c 'token refused the PIN' "$T/agent.log")" -eq 1
check "... and no CA process runs" sh -c '! pgrep -P "$1" -x certsync-ca' sh "$AGENT_PID"
cp "$T/good.pin" "$SOFTHSM_PIN_FILE"
kill -HUP "$AGENT_PID"
running() { tctl status | grep -Eq '^CA process: +running \(pid [0-9]+\)'; }
check "fixed and reloaded (SIGHUP): the CA process runs again" cs_wait_for 30 running
printf 'dn: uid=bob,%s\nchangetype: modify\nreplace: mail\nmail: bob.c@example.test\n' \
    "$SLAPD_PEOPLE" | ldap_admin_modify >/dev/null
check "... and bob is reissued again" cs_wait_for 60 active_for bob.c@example.test
cs_agent_stop
cs_done
