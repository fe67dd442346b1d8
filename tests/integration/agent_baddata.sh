#!/bin/sh
# agent_baddata.sh - bad directory data costs one user, never the run.
#
# Proves that: against a real slapd holding one good user and a set of users
# with data certsync must not certify (mail "not an address", "a@b@c.test",
# a mail with a space, an address another user already holds, a 100 KB
# displayName, a displayName and a givenName that are not valid UTF-8 but
# that slapd stores anyway, and an entry with no mail at all, returned
# because this test's filter is (objectClass=inetOrgPerson)), certsyncd
# --once exits 0; the good users get their two certificates, published in
# userCertificate;binary exactly as the store holds them and in
# userSMIMECertificate; each bad user gets no certificate, has exactly one
# "DN: skipped: REASON" line in the agent's log, and is listed by
# "certsyncctl status" under "skipped users:" with its DN and a reason that
# names the problem (for the duplicate: the user who has the address); the
# first holder of a shared address keeps it.  Once one bad user is fixed
# (a valid, unique mail), the next --once certifies and publishes it and
# drops it from the skipped list, while the others stay listed.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify openssl base64 head tr
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
# Our own [directory] section, not cs_agent_conf plus a second "filter"
# line: this filter also returns entries without a mail attribute.
cat >> "$CONF" <<CONF
[directory]
uri = $SLAPD_URI
base = $SLAPD_PEOPLE
bind_dn = $SLAPD_SVC_DN
bind_password_file = $SLAPD_SVC_PW_FILE
filter = (objectClass=inetOrgPerson)
network_timeout = 5
reconnect_max = 2
CONF

dn() { echo "uid=$1,$SLAPD_PEOPLE"; }

# add_user UID [LDIF-LINE...]: an inetOrgPerson (cn and sn set) added by the
# directory admin, with the given attribute lines.
add_user() {
	a_uid=$1; shift
	{
		printf 'dn: %s\nchangetype: add\nobjectClass: inetOrgPerson\n' "$(dn "$a_uid")"
		printf 'uid: %s\ncn: %s\nsn: User\n' "$a_uid" "$a_uid"
		for line in "$@"; do printf '%s\n' "$line"; done
	} | ldap_admin_modify
}

# stored_as DN ATTR BASE64: slapd holds exactly those bytes in ATTR.
stored_as() {
	ldap_get_attr "$1" "$2" | grep -Fx "$2:: $3"
}

# 100 KB of a plausible name, and names that are not UTF-8 which slapd's
# DirectoryString check lets through (it refuses a lone Latin-1 byte, an
# overlong form and a 2-byte NUL, but not these).
head -c 102400 /dev/zero | tr '\0' 'A' > "$T/big.name"
FIVE_BYTE=$(printf 'Bad \370\210\200\200\200 Name' | base64 -w0)  # no UTF-8 has 0xF8
SURROGATE=$(printf 'Half \355\240\200 Pair' | base64 -w0)          # U+D800, CESU-8

echo "# the directory: one good user, bad ones around it"
check "add good" add_user good "mail: good@example.test" "displayName: Good User" "givenName: Good"
check "add noaddr (mail \"not an address\")" add_user noaddr "mail: not an address"
check "add twoat (mail a@b@c.test)" add_user twoat "mail: a@b@c.test"
check "add space (mail with a space)" add_user space "mail: space user@example.test"
check "add owner (shared@example.test, first)" add_user owner "mail: shared@example.test" \
    "displayName: Owner User"
check "add second (shared@example.test, added second)" add_user second \
    "mail: shared@example.test" "displayName: Second User"
check "add bigname (a 100 KB displayName)" add_user bigname "mail: big@example.test" \
    "displayName:< file://$T/big.name"
check "slapd stored all 102400 bytes of it" \
    test "$(ldap_get_attr "$(dn bigname)" displayName | sed -n 's/^displayName: //p' | tr -d '\n' | wc -c)" -eq 102400
check "add badutf8 (displayName with a 5-byte sequence)" add_user badutf8 \
    "mail: badutf8@example.test" "displayName:: $FIVE_BYTE"
check "slapd stored the non-UTF-8 displayName byte for byte" \
    stored_as "$(dn badutf8)" displayName "$FIVE_BYTE"
check "add surrogate (givenName with an encoded surrogate)" add_user surrogate \
    "mail: surrogate@example.test" "givenName:: $SURROGATE"
check "slapd stored the surrogate givenName byte for byte" \
    stored_as "$(dn surrogate)" givenName "$SURROGATE"
check "add nomail (no mail attribute)" add_user nomail "displayName: No Mail"

# uid and the problem its reason must name (ERE, matched against the reason).
cat > "$T/bad.list" <<'EOF'
noaddr mail "not an address" (has no @|contains whitespace)
twoat mail "a@b@c\.test" has a character not allowed in a local part
space mail "space user@example\.test" contains whitespace
second address shared@example\.test is also used by .*\(uid=owner,ou=people,dc=example,dc=test\)
bigname displayName is 102400 bytes long \(at most [0-9]+ are accepted\)
badutf8 displayName is not valid UTF-8
surrogate givenName is not valid UTF-8
nomail the entry has no mail attribute
EOF
NBAD=$(wc -l < "$T/bad.list")

active_count() { ctl list --active | awk -v a="$1" 'NR > 1 && $NF == a' | wc -l; }
# DN holds exactly the store's (two) active certificates of ADDRESS.
published() { # DN ADDRESS
	cs_store_values "$2" > "$T/want"
	cs_dir_values "$1" userCertificate > "$T/have"
	echo "store:"; cat "$T/want"; echo "directory:"; cat "$T/have"
	[ "$(wc -l < "$T/want")" -eq 2 ] && cmp -s "$T/want" "$T/have" &&
	    [ -n "$(cs_dir_values "$1" userSMIMECertificate)" ]
}
no_certificate() { # DN
	ldap_get_attr "$1" userCertificate userSMIMECertificate
	[ -z "$(cs_dir_values "$1" userCertificate)" ] &&
	    [ -z "$(cs_dir_values "$1" userSMIMECertificate)" ]
}
# The "skipped users:" block of certsyncctl status.
skipped_block() { ctl status | sed -n '/^skipped users:/,/^[^ ]/p' | sed '1d;$d'; }
# skipped_for DN REASON-ERE: status lists DN with such a reason.
skipped_for() {
	skipped_block > "$T/skipped"
	cat "$T/skipped"
	grep -F "  $1 (" "$T/skipped" | sed 's/^[^)]*): //' | grep -Eq -- "$2"
}
not_skipped() { skipped_block > "$T/skipped"; cat "$T/skipped"; ! grep -qF "  $1 (" "$T/skipped"; }
# log_skips LOG DN REASON-ERE: exactly one skip line for DN, naming the reason.
log_skips() {
	grep -F "$2: skipped: " "$1" > "$T/lines" || :
	cat "$T/lines"
	[ "$(wc -l < "$T/lines")" -eq 1 ] && grep -Eq -- "$3" "$T/lines"
}

echo "# one pass: the bad users are skipped, the good ones certified"
check_exit 0 "certsyncd --once" "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
cp "$T/last.out" "$T/once1.log"
check "good has 2 active certificates" test "$(active_count good@example.test)" -eq 2
check "good's certificates are published" published "$(dn good)" good@example.test
check "owner keeps shared@example.test: 2 active certificates" \
    test "$(active_count shared@example.test)" -eq 2
check "owner's certificates are published" published "$(dn owner)" shared@example.test
check "the store holds those 4 certificates and no other" \
    test "$(ctl list | awk 'NR > 1' | wc -l)" -eq 4
while read -r u why; do
	check "$u: no certificate in the directory" no_certificate "$(dn "$u")"
	check "$u: listed as skipped by status, with the reason" skipped_for "$(dn "$u")" "$why"
	check "$u: one log line naming the DN and the reason" log_skips "$T/once1.log" "$(dn "$u")" "$why"
done < "$T/bad.list"
check "status lists exactly the $NBAD bad users" test "$(skipped_block | wc -l)" -eq "$NBAD"
check "$NBAD skip lines in the log, no more" test "$(grep -c ': skipped: ' "$T/once1.log")" -eq "$NBAD"
check "good was not skipped" not_skipped "$(dn good)"
check "owner was not skipped" not_skipped "$(dn owner)"
check "the refresh summary counts $NBAD skipped" grep -q "refresh complete: .* $NBAD skipped" "$T/once1.log"
check "nothing crashed or failed" sh -c "! grep -Eqi 'fatal|error|assert|sanitizer' '$T/once1.log'"

echo "# fixing one user: the next pass certifies it and unlists it"
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: fixed@example.test\n' "$(dn noaddr)" |
    ldap_admin_modify >/dev/null
check_exit 0 "certsyncd --once after the fix" "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
cp "$T/last.out" "$T/once2.log"
check "noaddr has 2 active certificates for fixed@example.test" \
    test "$(active_count fixed@example.test)" -eq 2
check "noaddr's certificates are published" published "$(dn noaddr)" fixed@example.test
check "noaddr is no longer listed as skipped" not_skipped "$(dn noaddr)"
check "the other $((NBAD - 1)) stay listed" test "$(skipped_block | wc -l)" -eq $((NBAD - 1))
check "second is still skipped for the shared address" \
    skipped_for "$(dn second)" "address shared@example\.test is also used by"
check "nobody else was certified: 6 certificates in all" \
    test "$(ctl list | awk 'NR > 1' | wc -l)" -eq 6
cs_done
