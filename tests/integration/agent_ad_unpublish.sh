#!/bin/sh
# agent_ad_unpublish.sh - [reconcile] on_disable = unpublish against a real
# Samba AD DC, DirSync rounds rung by change notification.
#
# Disabling a user withdraws exactly our certificates from userCertificate
# and userSMIMECertificate (a foreign certificate stays) and revokes
# nothing: they stay current in the store (certsyncctl list: withdrawn),
# their keys in the keystore, out of the CRL.  An address change while
# disabled issues and publishes nothing.  Enabled again, the same
# certificates (same serials, same DER) are published again, with the very
# same userSMIMECertificate value (the one made when they were issued).
# Disabled and then deleted: on hold (certificateHold).  Disabled, then enabled
# with a new address: reissued, the withdrawn ones revoked
# (affiliationChanged).  Erin, enabled throughout, keeps the safety catch
# from taking the two disabled at once for everyone leaving (it holds a
# round that withdraws every known user).
# shellcheck disable=SC2086 # $S0 and the like are lists of serials, split on purpose
. "${CS_SRCDIR:?}/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"

cs_need ldapsearch ldapmodify openssl base64 sqlite3 awk
CS_KEY_TYPE=${CS_KEY_TYPE:-ec:P-256}
cs_setup
samba_start

# No periodic round: each round is rung by a change the test makes.
samba_agent_conf "poll_interval = 3600"
cat >> "$CONF" <<CONF
[reconcile]
on_disable = unpublish
[log]
level = info
CONF

C="CN=carol,$SAMBA_USERS"
D="CN=dave,$SAMBA_USERS"
DB="$T/state/state.db"
CRL="$T/crl/ca.crl.pem"

# A certificate from someone else's CA, already in carol's userCertificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/foreign.key" -out "$T/foreign.pem" -days 30 \
    -subj "/CN=carol (foreign CA)" 2>/dev/null
FOREIGN=$(openssl x509 -in "$T/foreign.pem" -outform DER | base64 -w0)

ad_add_user carol carol@certsync.test "displayName: Carol King" \
    "userCertificate:: $FOREIGN" >/dev/null
ad_add_user dave dave@certsync.test "displayName: Dave Doe" >/dev/null
ad_add_user erin erin@certsync.test "displayName: Erin Page" >/dev/null

# uac DN VALUE: set userAccountControl (544 enabled, 546 disabled).
uac() {
	printf 'dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: %s\n' \
	    "$1" "$2" | ad_modify >/dev/null
}
# set_mail DN MAIL: the primary address, in mail and proxyAddresses.
set_mail() {
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n-\nreplace: proxyAddresses\nproxyAddresses: SMTP:%s\n' \
	    "$1" "$2" "$2" | ad_modify >/dev/null
}

# The directory's side.
ours() { ad_get_attr "$1" userCertificate | grep -vx "$FOREIGN" | sort; }
n_ours() { ours "$1" | grep -c . || :; }
ncerts() { ad_get_attr "$1" userCertificate | grep -c . || :; }
has_cert_for() {
	ours "$1" | while read -r b; do
		printf '%s' "$b" | base64 -d | openssl x509 -inform DER -noout \
		    -ext subjectAltName 2>/dev/null
	done | grep -q "email:$2\\b"
}
none_of_old() { ! ours "$C" | grep -qxF "$OURS0"; }
foreign_there() { ad_get_attr "$C" userCertificate | grep -qx "$FOREIGN"; }
smime_there() { [ -n "$(ad_get_attr "$1" userSMIMECertificate)" ]; }
no_smime() { [ -z "$(ad_get_attr "$1" userSMIMECertificate)" ]; }
withdrawn_from() { [ "$(n_ours "$1")" -eq 0 ] && no_smime "$1"; }

# The store's side.
# The current (list --active) serials naming ADDRESS, sorted, one a line.
serials_of() { ctl list --active | awk -v a="$1" 'NR > 1 && $NF == a { print $3 }' | sort; }
two_current() { [ "$(serials_of "$1" | grep -c .)" -eq 2 ]; }
# status_is STATUS SERIAL...: certsyncctl list shows each with STATUS.
status_is() {
	want=$1; shift
	ctl list > "$T/list.out" || return
	for s in "$@"; do
		awk -v s="$s" -v w="$want" 'NR > 1 && $3 == s { f = ($1 == w) } END { exit !f }' \
		    "$T/list.out" || { echo "$s is not $want:"; cat "$T/list.out"; return 1; }
	done
}
# The stored primary address of user GUID (what the last round saw).
stored_mail() { sqlite3 -readonly "$DB" "SELECT mail FROM identities_text WHERE uuid = '$1'"; }
mail_stored() { [ "$(stored_mail "$1")" = "$2" ]; }
# The audit records of ACTION for user GUID.
n_audit() { ctl audit --last 0 | awk -v a="$1" -v u="$2" '$3 == a && $4 == u' | wc -l; }
# The CRL's entries as "SERIAL REASON", serials without leading zeros.
crl_entries() {
	[ -e "$CRL" ] || return 0
	openssl crl -in "$CRL" -noout -text | awk '
	    /Serial Number:/ { s = $3; sub(/^0+/, "", s); r[s] = "-" }
	    /CRL Reason Code:/ { getline; gsub(/^ +| +$/, ""); r[s] = $0 }
	    END { for (s in r) print s, r[s] }'
}
# in_crl REASON SERIAL...: every SERIAL is in the CRL with REASON.
in_crl() {
	reason=$1; shift
	crl_entries > "$T/crl.out"
	for s in "$@"; do
		grep -qx "$s $reason" "$T/crl.out" || { echo "$s not in the CRL as $reason:"; cat "$T/crl.out"; return 1; }
	done
}
# not_in_crl SERIAL...: none of them is in the CRL (which exists).
not_in_crl() {
	[ -e "$CRL" ] || { echo "no CRL at $CRL"; return 1; }
	crl_entries > "$T/crl.out"
	for s in "$@"; do
		! grep -q "^$s " "$T/crl.out" || { echo "$s is in the CRL:"; cat "$T/crl.out"; return 1; }
	done
}
keys_kept() { for s in "$@"; do ls "$T"/keystore/*-"$s".p12 >/dev/null || return 1; done; }
log_has() { grep -q "$1" "$T/agent.log"; }
# The certificates ever issued to user GUID (recorded when issued).
n_certs() { sqlite3 -readonly "$DB" "SELECT count(*) FROM certificates_text WHERE uuid = '$1'"; }

# ---- enrollment ---------------------------------------------------------------
cs_agent_start
check "carol, dave and erin are enrolled over DirSync" \
    cs_wait_for 30 log_has "refresh complete: 3 planned"
check "carol's certificates are published" cs_wait_for 30 has_cert_for "$C" carol@certsync.test
check "dave's too" cs_wait_for 30 has_cert_for "$D" dave@certsync.test
check "carol's userSMIMECertificate is published" cs_wait_for 10 smime_there "$C"
# The store records a publication after the directory shows it.
check "carol has two current certificates in the store" \
    cs_wait_for 10 two_current carol@certsync.test
check "dave too" cs_wait_for 10 two_current dave@certsync.test
CG=$(ad_guid "$C")
S0=$(serials_of carol@certsync.test)
D0=$(serials_of dave@certsync.test)
OURS0=$(ours "$C")
SMIME0=$(ad_get_attr "$C" userSMIMECertificate)
check "they are listed as active" status_is active $S0 $D0
check "carol's entry holds the foreign certificate and our two" test "$(ncerts "$C")" -eq 3
check "the store holds just those two for carol" test "$(n_certs "$CG")" -eq 2

# ---- disable: withdrawn, not revoked ------------------------------------------------
ad_modify >/dev/null <<LDIF
dn: $C
changetype: modify
replace: userAccountControl
userAccountControl: 546

dn: $D
changetype: modify
replace: userAccountControl
userAccountControl: 546
LDIF
# The store records a withdrawal after the directory shows it.
check "disabled, carol's certificates are listed as withdrawn" \
    cs_wait_for 30 status_is withdrawn $S0
check "dave's too" cs_wait_for 30 status_is withdrawn $D0
set -- $S0
check "certsyncctl show says so too" sh -c \
    "'$CS_BUILDDIR/certsyncctl' -c '$CONF' show $1 | grep -qx 'Status: *withdrawn'"
check "carol's entry no longer has our certificates nor userSMIMECertificate" \
    withdrawn_from "$C"
check "dave's neither" withdrawn_from "$D"
check "the foreign certificate is still in carol's entry" foreign_there
check "it alone" test "$(ncerts "$C")" -eq 1
check "the agent says it withdrew them and kept them valid" \
    cs_wait_for 10 log_has "user $CG: withdrew 2 certificate(s) from $C (disabled; kept valid)"
check "they are still carol's current certificates, same serials" \
    test "$(serials_of carol@certsync.test)" = "$S0"
check "their keys are still in the keystore" keys_kept $S0
check "one unpublish audit record per certificate" test "$(n_audit unpublish "$CG")" -eq 2
check "nothing was revoked" test "$(sqlite3 -readonly "$DB" 'SELECT count(*) FROM revocations')" -eq 0
check "nothing was issued" test "$(n_certs "$CG")" -eq 2

# ---- dave deleted; carol's address changed while disabled ---------------------------
# Samba rings no change notification for a deletion: carol's change, made
# after it, rings the round that finds both.
printf 'dn: %s\nchangetype: delete\n' "$D" | ad_modify >/dev/null
set_mail "$C" carol.new@certsync.test
check "the round saw carol's new address" cs_wait_for 30 mail_stored "$CG" carol.new@certsync.test
check "deleted while withdrawn, dave's certificates are put on hold" \
    cs_wait_for 30 in_crl "Certificate Hold" $D0
check "and listed as on-hold" status_is on-hold $D0
check "carol's withdrawn certificates are not in that CRL" not_in_crl $S0
check "and still listed as withdrawn" status_is withdrawn $S0
# The decision is recorded with the identity, in the round's transaction.
check "the new address planned nothing for disabled carol (enroll, unpublish only)" \
    test "$(n_audit plan "$CG")" -eq 2
check "issued nothing" test "$(n_certs "$CG")" -eq 2
check "and published nothing" withdrawn_from "$C"

# ---- enabled again: the same certificates -------------------------------------------
set_mail "$C" carol@certsync.test
check "the round saw carol's old address back" cs_wait_for 30 mail_stored "$CG" carol@certsync.test
check "still nothing planned" test "$(n_audit plan "$CG")" -eq 2
uac "$C" 544
check "re-enabled, carol's certificates are published again" \
    cs_wait_for 30 log_has "user $CG: published 2 certificate(s) again to $C (enabled; same keys)"
check "the very same values (DER) as at enrollment" test "$(ours "$C")" = "$OURS0"
check "userSMIMECertificate is back" smime_there "$C"
check "the very same userSMIMECertificate value, byte for byte (made at issue, kept)" \
    test "$(ad_get_attr "$C" userSMIMECertificate)" = "$SMIME0"
check "next to the foreign certificate" foreign_there
check "three values in all" test "$(ncerts "$C")" -eq 3
check "listed as active again" status_is active $S0
check "they are the same serials" test "$(serials_of carol@certsync.test)" = "$S0"
check "nothing new was issued" test "$(n_certs "$CG")" -eq 2
check "one republish audit record per certificate" test "$(n_audit republish "$CG")" -eq 2
check "never revoked" not_in_crl $S0

# ---- disabled, then enabled with a new address: reissued --------------------------------
uac "$C" 546
check "disabled again: withdrawn" cs_wait_for 30 status_is withdrawn $S0
ad_modify >/dev/null <<LDIF
dn: $C
changetype: modify
replace: mail
mail: carol.new@certsync.test
-
replace: proxyAddresses
proxyAddresses: SMTP:carol.new@certsync.test
-
replace: userAccountControl
userAccountControl: 544
LDIF
check "enabled with a new address, carol is reissued" \
    cs_wait_for 30 has_cert_for "$C" carol.new@certsync.test
check "the withdrawn certificates are revoked (affiliationChanged)" \
    cs_wait_for 30 in_crl "Affiliation Changed" $S0
check "none of them is published" none_of_old
check "two new certificates next to the foreign one" test "$(ncerts "$C")" -eq 3
check "the foreign certificate survived it all" foreign_there
# Revoked after the new ones were recorded as published: no wait needed.
check "carol has two new current certificates" two_current carol.new@certsync.test
S1=$(serials_of carol.new@certsync.test)
check "listed as active" status_is active $S1

cs_agent_stop
check "no errors were logged" sh -c "! grep -i 'error' '$T/agent.log'"
cs_done
