#!/bin/sh
# package_deb.sh - the Debian package installs, works, and purges cleanly.
#
# Proves that scripts/package builds the .deb with lintian reporting no
# error or warning; that "dpkg -i" makes the system user and group
# certsync (home /var/lib/certsync, no login shell), /etc/certsync 0750
# root:certsync, the configuration as a registered conffile 0640
# root:certsync with the example's text, /var/lib/certsync, archive/ and
# keystore/ 0700 certsync's (crl/ 0755); installs the unit, sysusers.d and
# tmpfiles.d files as they are in packaging/, the unit not enabled and
# clean for "systemd-analyze verify" as installed; the CA process's
# /usr/libexec/certsync/certsync-ca (0755 root, linked with libseccomp);
# that /usr/sbin/certsyncd and /usr/bin/certsyncctl answer --help and --version (configure's
# version), and man finds the three pages.  Then README's set-up: with an
# archive password and a CA key owned by certsync (mode 0600), certsyncctl
# run as certsync issues a certificate from the shipped configuration,
# which certsync can read but not change and others cannot read.  A purge
# then removes the package's files but keeps what holds keys or state
# (/var/lib/certsync, /etc/certsync with the CA key) and says so; a second
# install and purge with nothing added leaves nothing behind but the
# certsync user and group, which Debian keeps (files may still be theirs).
#
# It installs on this machine, so it runs as root (scripts/check does); as
# any other user it fails with one line saying so (exit 99), never a skip
# that reads as a pass.  It refuses to run where certsync is installed or
# its directories exist (a real agent); it holds
# /var/lock/certsync-package-test so two builds never install at once; on
# any exit it purges the package, removes the directories it made, and the
# certsync user and group if it made them.  The package is built once per
# build directory ($CS_BUILDDIR/tests/package) and again only when the
# source changes (scripts/package --if-changed).
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need dpkg dpkg-query flock runuser getent stat cmp man systemd-analyze \
    userdel groupdel
if [ "$(id -u)" -ne 0 ]; then
	echo "FATAL: package_deb.sh installs a package with dpkg and must run as root (scripts/check does)" >&2
	exit 99
fi
cs_setup
unset MANPATH
ver=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$CS_BUILDDIR/config.h")

exec 9>/var/lock/certsync-package-test
flock -w 900 9 || {
	echo "FATAL: /var/lock/certsync-package-test stayed locked for 15 minutes" >&2; exit 99; }

# pkg_status: dpkg's status of certsync, empty when dpkg never heard of it.
pkg_status() { dpkg-query -W -f='${Status}' certsync 2>/dev/null || :; }
case "$(pkg_status)" in
"" | *" not-installed") ;;
*) echo "FATAL: certsync is installed here ($(pkg_status)); this test would purge it" >&2; exit 99 ;;
esac
for d in /etc/certsync /var/lib/certsync; do
	[ ! -e "$d" ] || { echo "FATAL: $d exists (a real certsync?); this test would remove it" >&2; exit 99; }
done
had_user=; getent passwd certsync >/dev/null && had_user=1
cleanup() {
	case "$(pkg_status)" in
	"" | *" not-installed") ;;
	*) dpkg --purge certsync >/dev/null 2>&1 || : ;;
	esac
	rm -rf /etc/certsync /var/lib/certsync
	if [ -z "$had_user" ]; then
		userdel certsync 2>/dev/null || :
		groupdel certsync 2>/dev/null || :
	fi
}
cs_on_exit cleanup

# ---- build ---------------------------------------------------------------
out="$CS_BUILDDIR/tests/package"
build() {
	"$CS_SRCDIR/scripts/package" -o "$out" --if-changed >"$T/deb-path" 2>"$T/package.log" ||
	    { cat "$T/package.log"; return 1; }
	tail -3 "$T/package.log"
}
check "scripts/package builds the .deb" build
DEB=$(tail -1 "$T/deb-path")
[ -f "$DEB" ] || { echo "FATAL: no package to test (\"$DEB\")" >&2; cs_done; exit 1; }
echo "# $DEB"
check "lintian: no errors, no warnings" sh -c \
    '[ -f "$1" ] && ! grep -E "^[EW]: " "$1"' sh "$out/lintian.txt"

# ---- install ---------------------------------------------------------------
check "dpkg -i installs it" dpkg -i "$DEB"
check "installed, version $ver-N" sh -c \
    'case "$(dpkg-query -W -f="\${Status} \${Version}" certsync)" in
    "install ok installed $1-"[0-9]*) exit 0 ;; *) exit 1 ;; esac' sh "$ver"
check "user certsync: system UID, home /var/lib/certsync, no login" sh -c \
    'getent passwd certsync | awk -F: "\$3 < 1000 && \$6 == \"/var/lib/certsync\" && \$7 ~ /nologin\$/ { ok = 1 } END { exit !ok }"'
check "group certsync" getent group certsync

# mode_is PATH "MODE OWNER:GROUP": stat says exactly that.
mode_is() { got=$(stat -c '%a %U:%G' "$1") && echo "$1: $got" && [ "$got" = "$2" ]; }
check "/etc/certsync 0750 root:certsync" mode_is /etc/certsync "750 root:certsync"
check "the configuration 0640 root:certsync" mode_is /etc/certsync/certsync.conf "640 root:certsync"
for d in "" /archive /keystore; do
	check "/var/lib/certsync$d 0700 certsync" mode_is "/var/lib/certsync$d" "700 certsync:certsync"
done
check "/var/lib/certsync/crl 0755 certsync" mode_is /var/lib/certsync/crl "755 certsync:certsync"
check "the configuration is a conffile" sh -c \
    'dpkg-query -W -f="\${Conffiles}\n" certsync | grep -q "^ /etc/certsync/certsync.conf [0-9a-f]\{32\}\$"'
check "the configuration is the example" cmp "$CS_SRCDIR/conf/certsync.conf.example" /etc/certsync/certsync.conf
check "the unit is packaging/certsyncd.service" \
    cmp "$CS_SRCDIR/packaging/certsyncd.service" /lib/systemd/system/certsyncd.service
check "sysusers.d file" cmp "$CS_SRCDIR/packaging/sysusers.d/certsync.conf" /usr/lib/sysusers.d/certsync.conf
check "tmpfiles.d file" cmp "$CS_SRCDIR/packaging/tmpfiles.d/certsync.conf" /usr/lib/tmpfiles.d/certsync.conf
check "the unit is not enabled" sh -c '! ls /etc/systemd/system/*.wants/certsyncd.service 2>/dev/null'
check "systemd-analyze verify: the installed unit is clean" sh -c \
    'out=$(systemd-analyze verify certsyncd.service 2>&1); rc=$?; echo "$out"; [ $rc -eq 0 ] && [ -z "$out" ]'

check_exit 0 "/usr/sbin/certsyncd --help" /usr/sbin/certsyncd --help
last_says '^usage: certsyncd ' "... prints certsyncd's usage"
check_exit 0 "/usr/bin/certsyncctl --help" /usr/bin/certsyncctl --help
last_says '^usage: certsyncctl ' "... prints certsyncctl's usage"
check "the CA process's program: /usr/libexec/certsync/certsync-ca, 0755 root" sh -c \
    '[ "$(stat -c "%a %U" /usr/libexec/certsync/certsync-ca)" = "755 root" ]'
check "... linked with libseccomp" sh -c \
    'ldd /usr/libexec/certsync/certsync-ca | grep -q "libseccomp\.so"'
for prog in /usr/sbin/certsyncd /usr/bin/certsyncctl; do
	check_exit 0 "$prog --version" "$prog" --version
	last_says "^$(basename "$prog") $ver\$" "... says $ver"
done
for page in certsyncd.8 certsyncctl.8 certsync.conf.5; do
	check "man finds $page" sh -c \
	    '[ "$(man -w "${1##*.}" "${1%.*}")" = "/usr/share/man/man${1##*.}/$1.gz" ]' sh "$page"
done

# ---- README's set-up: secrets owned by certsync, certsyncctl as certsync ----
printf 'package-test-%s\n' "$$" > /etc/certsync/archive.pw
chown certsync:certsync /etc/certsync/archive.pw
chmod 0600 /etc/certsync/archive.pw
check "certsyncctl init-ca (as root)" /usr/bin/certsyncctl init-ca \
    --subject "CN=certsync package test CA" --key-type ec:P-256
chown certsync:certsync /etc/certsync/ca.key
as_certsync() { runuser -u certsync -- "$@"; }
check "as certsync, with the shipped configuration: certsyncctl issue" \
    as_certsync /usr/bin/certsyncctl issue pkgtest@example.test --name "Package Test"
check "... the certificate is listed" sh -c \
    'runuser -u certsync -- /usr/bin/certsyncctl list --active | grep -q pkgtest@example.test'
check "... state.db is certsync's" sh -c '[ "$(stat -c %U /var/lib/certsync/state.db)" = certsync ]'
check "... the keystore holds its keys, 0600 certsync" sh -c \
    'n=$(find /var/lib/certsync/keystore -type f -user certsync -perm 0600 | wc -l); [ "$n" -ge 1 ]'
check_fails "certsync cannot change its configuration" \
    as_certsync sh -c ': >> /etc/certsync/certsync.conf'
check_fails "others cannot read the configuration" \
    runuser -u nobody -- cat /etc/certsync/certsync.conf

# ---- purge, with keys and state ---------------------------------------------
check "dpkg --purge" sh -c 'dpkg --purge certsync 2>"$1"' sh "$T/purge.err"
check "not installed any more" sh -c 'case "$(dpkg-query -W -f="\${Status}" certsync 2>/dev/null)" in
    "" | *" not-installed") exit 0 ;; *) exit 1 ;; esac'
for f in /usr/sbin/certsyncd /usr/bin/certsyncctl /usr/libexec/certsync/certsync-ca \
    /lib/systemd/system/certsyncd.service /etc/certsync/certsync.conf; do
	check "$f is gone" test ! -e "$f"
done
for f in /var/lib/certsync/state.db /etc/certsync/ca.key /etc/certsync/archive.pw; do
	check "$f is kept" test -f "$f"
done
check "the kept keystore still holds the keys" sh -c \
    '[ -n "$(find /var/lib/certsync/keystore -type f)" ]'
check "purge says what it kept" sh -c \
    'grep -q "/var/lib/certsync is not empty" "$1" && grep -q "/etc/certsync is not empty" "$1"' sh "$T/purge.err"
rm -rf /etc/certsync /var/lib/certsync

# ---- install and purge with nothing added ------------------------------------
check "dpkg -i again" dpkg -i "$DEB"
dpkg-query -L certsync > "$T/files"
check "dpkg --purge again" dpkg --purge certsync
# leftovers: every file the package had, and its own directories, that exist.
leftovers() {
	while IFS= read -r f; do
		if [ -d "$f" ]; then	# /lib, /usr/bin, ...: others' too
			case "$f" in /etc/certsync | /usr/share/doc/certsync) [ ! -e "$f" ] || echo "$f" ;; esac
		elif [ -e "$f" ] || [ -L "$f" ]; then
			echo "$f"
		fi
	done < "$T/files"
	for f in /etc/certsync /var/lib/certsync /run/certsync \
	    /var/lib/systemd/deb-systemd-helper-enabled/certsyncd.service.dsh-also; do
		[ ! -e "$f" ] || echo "$f"
	done
	find /etc/systemd /var/lib/systemd -name '*certsync*' 2>/dev/null
	dpkg-statoverride --list | grep certsync || :
}
leftovers > "$T/left"
check "nothing is left of the package" sh -c \
    'cat "$2"; [ "$(wc -l < "$1")" -gt 10 ] && [ ! -s "$2" ]' sh "$T/files" "$T/left"
check "the user and group certsync stay (Debian keeps system users)" sh -c \
    'getent passwd certsync && getent group certsync'

cs_done
