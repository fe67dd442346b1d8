#!/bin/sh
# agent_basic.sh - certsyncd against a real slapd (syncprov): enrollment on
# the first refresh, a reissue within seconds of an address change (new
# certificates readable in the directory, old ones withdrawn, revoked and
# their keys archived), a foreign certificate left untouched, no feedback
# loop from our own writes, a restart that resumes from the cookie without
# reissuing anyone, and a slapd restart under the running agent.  The
# userSMIMECertificate value, at enrollment and after the reissue, is one
# value in the form Outlook writes, checked by openssl, GnuTLS,
# python3-cryptography and a DER reader of our own (smime_check.sh).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
. "$CS_SRCDIR/tests/integration/smime_check.sh"
cs_need ldapsearch ldapmodify openssl base64
cs_setup
slapd_start
cs_agent_conf
ALICE="uid=alice,$SLAPD_PEOPLE"
BOB="uid=bob,$SLAPD_PEOPLE"
ldap_add_user alice alice@example.test "Alice Example" Alice Example
ldap_add_user bob bob@example.test "Bob Builder" Bob Builder

# A certificate some other CA issued to Alice; it must survive everything.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/foreign.key" -subj "/CN=Foreign Alice" -days 30 \
    -outform DER -out "$T/foreign.der" 2>/dev/null
printf 'dn: %s\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:< file://%s\n' \
    "$ALICE" "$T/foreign.der" | ldap_admin_modify >/dev/null
FOREIGN=$(base64 -w0 < "$T/foreign.der")

mail_is() { # DN ADDRESS
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$1" "$2" |
	    ldap_admin_modify >/dev/null
}
active_for() { ctl list --active | grep -q " $1\$"; }
# The directory holds exactly our active certificates for ADDRESS, plus foreign.
published() { # DN ADDRESS [FOREIGN]
	{ cs_store_values "$2"; [ -z "${3:-}" ] || echo "$3"; } | sort > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	# Ours must be there: an empty store must not pass as "nothing to show".
	[ -n "$(cs_store_values "$2")" ] && cmp -s "$T/want" "$T/have"
}
plans() { ctl audit --last 0 | grep -c " plan " || :; }
smime_of() { cs_dir_values "$1" userSMIMECertificate; }
has_smime() { [ -n "$(smime_of "$1")" ]; }
one_smime() { [ "$(smime_of "$1" | grep -c .)" -eq 1 ]; }
crl_lists() { # SERIAL REASON
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text 2>/dev/null |
	    grep -A4 "$1" | grep -q "$2"
}
cookie_saved() { ctl status | grep -q 'syncrepl cookie saved'; }
log_count() { test "$(grep -c "$1" "$T/agent.log")" -eq "$2"; }
foreign_kept() { cs_dir_values "$ALICE" userCertificate | grep -qx "$FOREIGN"; }
no_pending() { ! ctl list | grep -q '^pending'; }

echo "# first refresh: everyone is enrolled and published"
cs_agent_start
check "alice enrolled" cs_wait_for 30 active_for alice@example.test
check "bob enrolled" cs_wait_for 30 active_for bob@example.test
check "alice's certificates and the foreign one are in the directory" \
    cs_wait_for 30 published "$ALICE" alice@example.test "$FOREIGN"
check "bob's certificates are in the directory" cs_wait_for 30 published "$BOB" bob@example.test
check "userSMIMECertificate published" has_smime "$ALICE"
check "one userSMIMECertificate value" one_smime "$ALICE"
SMIME0=$(smime_of "$ALICE")
smime_checks "alice enrolled" "$SMIME0" alice@example.test

echo "# an address change is reissued"
OLD_ENC=$(cs_serial encryption alice@example.test)
mail_is "$ALICE" alice.smith@example.test
check "new certificates for the new address" cs_wait_for 30 active_for alice.smith@example.test
check "directory shows the new certificates, the foreign one, and not the old" \
    cs_wait_for 30 published "$ALICE" alice.smith@example.test "$FOREIGN"
check "old encryption key archived" test -f "$T/archive/encryption-$OLD_ENC.p12"
check "old encryption key gone from the keystore" test ! -e "$T/keystore/encryption-$OLD_ENC.p12"
check "CRL lists the old certificate as affiliationChanged" \
    cs_wait_for 30 crl_lists "$OLD_ENC" "Affiliation Changed"
check "still one userSMIMECertificate value" one_smime "$ALICE"
check "a new one" test "$(smime_of "$ALICE")" != "$SMIME0"
smime_checks "alice reissued" "$(smime_of "$ALICE")" alice.smith@example.test

echo "# our own writes cause no work"
# Bob's change comes after every event our writes to Alice caused: once it
# is handled, anything those events would have planned is in the audit.
P0=$(plans)
mail_is "$BOB" bob.builder@example.test
check "bob reissued" cs_wait_for 30 published "$BOB" bob.builder@example.test
check "only bob's change was planned ($P0 -> $((P0 + 1)))" test "$(plans)" -eq $((P0 + 1))

echo "# a restart resumes from the cookie and reissues nobody"
cs_agent_stop
check "a cookie is stored" cookie_saved
ISSUED=$(ctl audit --last 0 | grep -c ' issue ')
cs_agent_start
mail_is "$BOB" bob@example.test
check "the change made after the restart is handled" cs_wait_for 30 published "$BOB" bob@example.test
check "exactly bob's two certificates were issued since the restart" \
    test "$(ctl audit --last 0 | grep -c ' issue ')" -eq $((ISSUED + 2))
check "one full refresh only, at the very first start" log_count "full refresh (no cookie)" 1
check "the restart resumed from the cookie" log_count "resuming from the stored cookie" 1

echo "# slapd restarted under the running agent"
slapd_restart
mail_is "$ALICE" alice@example.test
check "the agent reconnected and reissued" cs_wait_for 40 published "$ALICE" alice@example.test "$FOREIGN"
check "the disconnection was logged once per state change" grep -q "disconnected:" "$T/agent.log"
check "the foreign certificate is still there" foreign_kept
cs_agent_stop
check "no pending certificates are left" no_pending
cs_done
