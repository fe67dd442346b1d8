#!/bin/sh
# tests/fuzz/capture.sh - fuzz seeds taken from the test harnesses' real
# servers: slapd (tests/integration/slapd.sh) and Samba AD
# (tests/integration/samba.sh, as root).
#
# Usage: CS_BUILDDIR=build/gcc CS_SRCDIR=. sh tests/fuzz/capture.sh OUTDIR [openldap|ad]...
# (after "make -C build/gcc tests/fuzz/capture").  Writes OUTDIR/syncrepl,
# dirsync, identity, adcopy: see tests/fuzz/capture.c for what each holds.
# Copy what is worth keeping into tests/fuzz/corpus/.
#
# Owns: a handful of users with the odd values the agent meets (aliases,
# proxyAddresses of several types, a disabled account, non-ASCII names),
# and the changes made between the capture's two rounds (an address
# changed, an alias added, a user added, one deleted).
# Never: runs outside the harnesses' private servers and scratch directory.
set -eu
: "${CS_BUILDDIR:?set CS_BUILDDIR to a build directory}"
: "${CS_SRCDIR:?set CS_SRCDIR to the source tree}"
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [openldap|ad]..." >&2; exit 64; }
OUTDIR=$(mkdir -p "$1" && cd "$1" && pwd); shift
CAPTURE="$CS_BUILDDIR/tests/fuzz/capture"
[ -x "$CAPTURE" ] || { echo "$0: make $CAPTURE first" >&2; exit 70; }

openldap() {
	(
	. "$CS_SRCDIR/tests/integration/lib.sh"
	. "$CS_SRCDIR/tests/integration/slapd.sh"
	LDAPNOINIT=1; export LDAPNOINIT
	cs_setup
	slapd_start
	cs_agent_conf
	ldap_add_user alice alice@example.test "Alice Example" Alice Example
	ldap_add_user bob Bob.Jones@Example.TEST "Bob Jones" Bob Jones
	ldap_add_user yamada yamada@example.jp "山田 太郎" 太郎 山田
	ldap_add_user dave dave@example.test "Dave Gone"
	printf 'dn: uid=bob,%s\nchangetype: modify\nadd: mail\nmail: bj@example.test\n' \
	    "$SLAPD_PEOPLE" | ldap_admin_modify >/dev/null
	cat > "$T/change.sh" <<CHANGE
set -e
export LDAPNOINIT=1
m() { ldapmodify -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" >/dev/null; }
printf 'dn: uid=alice,$SLAPD_PEOPLE\nchangetype: modify\nreplace: mail\nmail: alice.smith@example.test\nmail: alice@example.test\n' | m
printf 'dn: uid=erin,$SLAPD_PEOPLE\nchangetype: add\nobjectClass: inetOrgPerson\nuid: erin\ncn: Erin\nsn: Erin\nmail: erin@example.test\n' | m
printf 'dn: uid=dave,$SLAPD_PEOPLE\nchangetype: delete\n' | m
CHANGE
	"$CAPTURE" "$CONF" "$OUTDIR" sh "$T/change.sh"
	)
}

ad() {
	(
	. "$CS_SRCDIR/tests/integration/lib.sh"
	. "$CS_SRCDIR/tests/integration/samba.sh"
	cs_setup
	samba_start
	samba_agent_conf
	ad_add_user alice alice@certsync.test "displayName: Alice Smith" \
	    "proxyAddresses: SMTP:alice@certsync.test" "proxyAddresses: smtp:al@certsync.test" \
	    "proxyAddresses: X400:c=US;a= ;p=Certsync;o=Test;s=Smith;" \
	    "proxyAddresses: sip:alice@certsync.test"
	ad_add_user bob bob@certsync.test "givenName: Bob" "sn: Jones" \
	    "userAccountControl: 514"
	ad_add_user joerg joerg@certsync.test "displayName: Jörg Müller"
	cat > "$T/change.sh" <<CHANGE
set -e
export HOME="$T/samba/home" LDAPTLS_CACERT="$SAMBA_TLS_CA" LDAPTLS_REQCERT=demand
unset LDAPNOINIT LDAPCONF LDAPRC
m() { ldapmodify -x -H "$SAMBA_URI" -D "$SAMBA_ADMIN_DN" -y "$SAMBA_ADMIN_PW_FILE" >/dev/null; }
printf 'dn: CN=alice,$SAMBA_USERS\nchangetype: modify\nreplace: proxyAddresses\nproxyAddresses: SMTP:alice.smith@certsync.test\nproxyAddresses: smtp:alice@certsync.test\n' | m
printf 'dn: CN=bob,$SAMBA_USERS\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n' | m
printf 'dn: CN=joerg,$SAMBA_USERS\nchangetype: modify\nreplace: displayName\ndisplayName: Jörg Müller-Lüdenscheidt\n' | m
CHANGE
	"$CAPTURE" "$CONF" "$OUTDIR" sh "$T/change.sh"
	)
}

for what in ${*:-openldap ad}; do
	case $what in
	openldap) openldap ;;
	ad) ad ;;
	*) echo "$0: $what: openldap or ad" >&2; exit 64 ;;
	esac
done
