#!/bin/sh
# agent_ad.sh - certsyncd against a real Samba AD DC: DirSync rounds rung by
# change notification, as the delegated service account over ldaps.
#
# An address change, a proxyAddresses alias added, a displayName change,
# disable (on hold) and re-enable (the same certificates back), delete (on
# hold); an agent restart resumes from the DirSync
# cookie without reissuing anyone and still sees a change made while it was
# down; the DC restarted under the running agent; a foreign certificate in
# userCertificate is never touched.  Our userSMIMECertificate value, at
# enrollment and next to a foreign one after a reissue, is checked by
# openssl, GnuTLS, python3-cryptography and our own DER reader
# (smime_check.sh).
. "${CS_SRCDIR:?}/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"
. "$CS_SRCDIR/tests/integration/smime_check.sh"

CS_KEY_TYPE=${CS_KEY_TYPE:-ec:P-256}
cs_setup
samba_start

# Samba sends no change notification for a deletion: the round every
# poll_interval finds those.
samba_agent_conf "poll_interval = 10"
cat >> "$CONF" <<CONF
[log]
level = info
CONF

A="CN=alice,$SAMBA_USERS"
B="CN=bob,$SAMBA_USERS"
C="CN=carol,$SAMBA_USERS"

# A certificate from someone else's CA, already in bob's userCertificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/foreign.key" -out "$T/foreign.pem" -days 30 \
    -subj "/CN=bob (foreign CA)" 2>/dev/null
FOREIGN=$(openssl x509 -in "$T/foreign.pem" -outform DER | base64 -w0)

ad_add_user alice alice@certsync.test "displayName: Alice Smith" >/dev/null
# And an S/MIME value of someone else's in his userSMIMECertificate.
SMIME_FOREIGN=$(openssl rand 40 | base64 -w0)
ad_add_user bob bob@certsync.test "displayName: Bob Jones" \
    "userCertificate:: $FOREIGN" "userSMIMECertificate:: $SMIME_FOREIGN" >/dev/null
ad_add_user carol carol@certsync.test "displayName: Carol King" >/dev/null

certs_of() { ad_certs_of "$1"; }
ncerts() { ad_get_attr "$1" userCertificate | grep -c . ; }
has_cert_for() { certs_of "$1" | grep -q "email:$2\\b"; }
lacks_cert_for() { ! certs_of "$1" | grep -q "email:$2\\b"; }
subject_has() { certs_of "$1" | grep -q "$2"; }
subject_lacks() { ! certs_of "$1" | grep -q "$2"; }
foreign_there() { ad_get_attr "$B" userCertificate | grep -qx "$FOREIGN"; }
smime_there() { [ -n "$(ad_get_attr "$1" userSMIMECertificate)" ]; }
log_has() { grep -q "$1" "$T/agent.log"; }
log_lacks() { ! grep -q "$1" "$T/agent.log"; }
n_issued() { grep -c ": issued " "$T/agent.log"; }
count_is() { [ "$("$@" 2>/dev/null | head -1)" = "$EXPECT" ]; }

cs_agent_start
check "enrolled alice, bob and carol over DirSync" \
    cs_wait_for 60 log_has "refresh complete: 3 planned, 0 skipped, 0 up to date"
check "alice's two certificates are published" cs_wait_for 60 has_cert_for "$A" alice@certsync.test
check "carol's too" cs_wait_for 60 has_cert_for "$C" carol@certsync.test
check "bob's too" cs_wait_for 60 has_cert_for "$B" bob@certsync.test
EXPECT=2 check "alice has exactly two values" cs_wait_for 10 count_is ncerts "$A"
check "the source is DirSync, started by change notification" \
    grep -q "dirsync rounds, started by change notification" "$T/agent.log"
check "userSMIMECertificate is published too" smime_there "$A"
smime_checks "alice, AD" "$(ad_get_attr "$A" userSMIMECertificate)" alice@certsync.test
check "bob's foreign certificate is still there" foreign_there
EXPECT=3 check "bob has the foreign one and our two" cs_wait_for 10 count_is ncerts "$B"
GUID=$(ad_guid "$A")
check "alice's identity is her objectGUID" log_has "user $GUID: issued"

# ---- an address change -------------------------------------------------------
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: alice.smith@certsync.test\n-\nreplace: proxyAddresses\nproxyAddresses: SMTP:alice.smith@certsync.test\n' "$A" |
    ad_modify >/dev/null
check "an address change reissues at once" \
    cs_wait_for 60 has_cert_for "$A" alice.smith@certsync.test
check "and withdraws the old certificates" cs_wait_for 30 lacks_cert_for "$A" alice@certsync.test
check "the superseded ones are revoked" \
    cs_wait_for 30 grep -q "(affiliationChanged)" "$T/agent.log"
check "the superseded encryption key is archived" \
    sh -c "ls '$T'/archive/encryption-*.p12 >/dev/null"

# ---- a proxyAddresses alias -----------------------------------------------------
printf 'dn: %s\nchangetype: modify\nadd: proxyAddresses\nproxyAddresses: smtp:asmith@certsync.test\nproxyAddresses: X400:c=US;a= ;p=Org;o=Ex;s=Smith;\n' "$A" |
    ad_modify >/dev/null
check "an smtp: alias gets into the certificates" \
    cs_wait_for 60 has_cert_for "$A" asmith@certsync.test
check "the X400 address does not" subject_lacks "$A" X400

# ---- a displayName change ------------------------------------------------------------
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Alice Jones\n' "$A" |
    ad_modify >/dev/null
check "a displayName change reissues with the new name" \
    cs_wait_for 60 subject_has "$A" "CN *= *Alice Jones"
check "and the old name is withdrawn" cs_wait_for 30 subject_lacks "$A" "Alice Smith"

# ---- disable and re-enable ---------------------------------------------------------
ad_get_attr "$C" userCertificate | sort > "$T/carol.before"
printf 'dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 546\n' "$C" |
    ad_modify >/dev/null
check "disabling carol withdraws her certificates" \
    cs_wait_for 60 lacks_cert_for "$C" carol@certsync.test
check "and puts them on hold (certificateHold)" \
    cs_wait_for 30 grep -q "put .* certificate .* on hold (certificateHold)" "$T/agent.log"
before=$(n_issued)
printf 'dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 544\n' "$C" |
    ad_modify >/dev/null
check "re-enabled, carol's certificates are back" cs_wait_for 60 has_cert_for "$C" carol@certsync.test
same_carol() { ad_get_attr "$C" userCertificate | sort > "$T/carol.now"; cmp -s "$T/carol.before" "$T/carol.now"; }
check "the same ones, the hold lifted" cs_wait_for 30 same_carol
check "and none issued" test "$(n_issued)" -eq "$before"

# ---- restart from the cookie ----------------------------------------------------------
cs_agent_stop
issued=$(n_issued)
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Bob Jones-Miller\n' "$B" |
    ad_modify >/dev/null
mv "$T/agent.log" "$T/agent.log.1"
cs_agent_start
check "after a restart, a change made while down is seen" \
    cs_wait_for 60 subject_has "$B" "Bob Jones-Miller"
check "from the stored cookie: no full pass" log_lacks "full pass"
check "and only bob was reissued (two certificates)" test "$(n_issued)" -eq 2
check "bob's foreign certificate survived his reissue" foreign_there
smime_pair() {
	ad_get_attr "$B" userSMIMECertificate > "$T/smime.b" &&
	    grep -qx "$SMIME_FOREIGN" "$T/smime.b" && [ "$(grep -c . "$T/smime.b")" -eq 2 ]
}
check "and his foreign S/MIME value too, next to our one new value" smime_pair
smime_checks "bob reissued, AD" "$(grep -vx "$SMIME_FOREIGN" "$T/smime.b")" bob@certsync.test


# ---- the DC restarted under the agent ----------------------------------------------------
samba_restart
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Carol Queen\n' "$C" |
    ad_modify >/dev/null
check "after the DC restarts, the agent reconnects and sees changes" \
    cs_wait_for 90 subject_has "$C" "Carol Queen"
check "it said it lost the connection" log_has "disconnected"
check "and reconnected without a full pass" log_lacks "full pass"

# ---- delete ---------------------------------------------------------------------------------------
ad_modify <<LDIF >/dev/null
dn: $B
changetype: delete
LDIF
check "deleting bob puts his certificates on hold" \
    cs_wait_for 60 log_has "hold: the user is gone from the directory"
check "bob has no active certificates left" \
    cs_wait_for 30 sh -c "! '$CTL' -c '$CONF' list --active | grep -q bob@"

cs_agent_stop
# certsyncctl plan reads the directory in pages (AD stops an unpaged search
# at MaxPageSize) and counts only users in scope: alice and carol.
"$CTL" -c "$CONF" plan > "$T/plan.out" 2>&1 || :
check "certsyncctl plan: nothing to do, alice and carol up to date" \
    grep -qx "0 to do, 0 skipped, 2 up to date" "$T/plan.out"
check "no errors were logged" sh -c "! grep -i 'error' '$T/agent.log' '$T/agent.log.1'"
cs_done
