#!/bin/sh
# ca_memory.sh - the parent cannot sign: the CA key is in the CA process's
# memory and nowhere in certsyncd's.
#
# Proves, for an EC P-256 CA (its private scalar) and an RSA-2048 CA (its
# private exponent d), while certsyncd runs against a real slapd and has
# just issued certificates (so its runner has asked the CA process to
# sign): the secret, as stored in memory by OpenSSL (little-endian limbs)
# and as written in the key file (big-endian), and a line of the key
# file's PEM, are found in the CA process (certsync-ca, certsyncd's child),
# which shows the scanner (tests/integration/memscan.py, reading
# /proc/PID/mem as root) finds them; and none of them is anywhere in
# certsyncd.  Also that certsync-ca runs as [ca] user (nobody) and
# certsyncd's own memory was scanned in full (more than 1 MB read).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify openssl python3 awk tr
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: reading another process's memory needs root"
	exit 77
fi
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
SCAN="python3 $CS_SRCDIR/tests/integration/memscan.py"

# secret_hex KEYFILE: the private scalar (EC) or exponent (RSA), big-endian
# hex without leading zero bytes.
secret_hex() {
	openssl pkey -in "$1" -text -noout | awk '
	    /^priv:|^privateExponent:/ { on = 1; next }
	    /^[A-Za-z]/ { on = 0 }
	    on { gsub(/[ :]/, ""); printf "%s", $0 }' | sed 's/^\(00\)*//'
}
reverse_hex() { printf '%s' "$1" | fold -w2 | tac | tr -d '\n'; }
# A line from the middle of the key file's PEM, as bytes in hex.
pem_line_hex() { sed -n 3p "$1" | tr -d '\n' | od -An -tx1 | tr -d ' \n'; }
ca_child() { pgrep -P "$AGENT_PID" -x certsync-ca; }
mail_is() {
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$1" "$2" |
	    ldap_admin_modify >/dev/null
}
active_for() { ctl list --active | grep -q " $1\$"; }

# round NAME: certsyncd with the CA of $CONF; scans both processes.
round() {
	name=$1
	be=$(secret_hex "$T/ca/ca.key")
	le=$(reverse_hex "$be")
	pem=$(pem_line_hex "$T/ca/ca.key")
	check "[$name] the secret is read from the key file (${#be} hex digits)" \
	    test "${#be}" -ge 60
	: > "$T/agent.log"
	cs_agent_start
	check "[$name] the agent enrolls $name" cs_wait_for 60 active_for "$name@example.test"
	mail_is "uid=$name,$SLAPD_PEOPLE" "$name.moved@example.test"
	check "[$name] and reissues it" cs_wait_for 60 active_for "$name.moved@example.test"
	ca=$(ca_child)
	check "[$name] certsyncd ($AGENT_PID) has a CA process (${ca:-none})" test -n "$ca"
	check "[$name] which runs as nobody" \
	    test "$(ps -o user= -p "$ca" | tr -d ' ')" = nobody
	$SCAN "$ca" "$le" "$be" "$pem" > "$T/scan.ca"
	$SCAN "$AGENT_PID" "$le" "$be" "$pem" > "$T/scan.parent"
	sed "s/^/#   [$name] CA process: /" "$T/scan.ca"
	sed "s/^/#   [$name] certsyncd:  /" "$T/scan.parent"
	check "[$name] the scanner finds the secret in the CA process" \
	    awk 'NR <= 2 && $2 > 0 { found = 1 } END { exit !found }' "$T/scan.ca"
	check "[$name] the secret is nowhere in certsyncd (either byte order)" \
	    awk 'NR <= 2 && $2 != 0 { bad = 1 } END { exit bad }' "$T/scan.parent"
	check "[$name] nor is the key file's PEM" \
	    awk 'NR == 3 && $2 != 0 { bad = 1 } END { exit bad }' "$T/scan.parent"
	check "[$name] certsyncd's memory was read in full" \
	    awk '/^scanned/ && $2 > 1000000 { ok = 1 } END { exit !ok }' "$T/scan.parent"
	cs_agent_stop
}

ldap_add_user ec ec@example.test "EC Example" EC Example
round ec

# The same with an RSA CA, in a fresh CA directory.
mv "$T/ca" "$T/ca.ec"
ctl init-ca --subject "CN=certsync RSA Test CA" --key-type rsa:2048 >/dev/null
rm -f "$T/state/state.db"*
ldap_add_user rsa rsa@example.test "RSA Example" RSA Example
round rsa
cs_done
