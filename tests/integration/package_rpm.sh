#!/bin/sh
# package_rpm.sh - packaging/rpm/certsync.spec builds with rpmbuild -bb.
#
# Proves that the spec's Version is configure's; that rpmbuild -bb builds a
# binary RPM from this build's "make dist" tarball (its %check runs the unit
# tests); and that the RPM holds certsyncd in /usr/sbin, certsyncctl in
# /usr/bin, the CA process's certsync-ca in /usr/libexec/certsync (and
# requires libseccomp), the three man pages, the unit (the same bytes as
# packaging/certsyncd.service), the sysusers.d and tmpfiles.d files, the
# configuration as a noreplace config file root:certsync 0640 in a 0750
# directory, and /var/lib/certsync with its key directories certsync's,
# mode 0700.
#
# Debian's rpmbuild cannot see Debian's packages, so it cannot resolve the
# spec's BuildRequires (Fedora's names): it builds with --nodeps, against the
# -dev packages scripts/check installs.  Nothing is installed; rpmbuild's
# tree and scratch files stay in the test's directory.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need rpmbuild rpm tar make sha256sum
cs_setup
# The enclosing "make check" passes its variables down through MAKEFLAGS:
# its TESTS= would make the %check inside run this very test again.
unset MAKEFLAGS MFLAGS MAKELEVEL
SPEC="$CS_SRCDIR/packaging/rpm/certsync.spec"
ver=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$CS_BUILDDIR/config.h")

check "the spec's Version is configure's ($ver)" \
    grep -qx "Version: *$ver" "$SPEC"

# The tarball of this build, as "make distcheck" would ship it.
mkdir -p "$T/rpm/SOURCES" "$T/rpm/tmp"
make -C "$CS_BUILDDIR" -s dist-gzip \
    >"$T/dist.log" 2>&1 || { cat "$T/dist.log"; echo "FATAL: make dist failed" >&2; exit 99; }
mv "$CS_BUILDDIR/certsync-$ver.tar.gz" "$T/rpm/SOURCES/"
tar -xOzf "$T/rpm/SOURCES/certsync-$ver.tar.gz" \
    "certsync-$ver/packaging/sysusers.d/certsync.conf" > "$T/rpm/SOURCES/certsync.sysusers"

build() {
	rpmbuild -bb --nodeps --define "_topdir $T/rpm" --define "_tmppath $T/rpm/tmp" \
	    "$SPEC" >"$T/rpmbuild.log" 2>&1 || { tail -30 "$T/rpmbuild.log"; return 1; }
}
check "rpmbuild -bb --nodeps builds the package" build
check "its %check ran the unit tests, all passed" sh -c \
    'grep -q "^# PASS: *[1-9]" "$1" && grep -q "^# FAIL: *0" "$1" && grep -q "^# ERROR: *0" "$1"' \
    sh "$T/rpmbuild.log"
RPM=$(ls "$T"/rpm/RPMS/*/certsync-"$ver"-1*.rpm 2>/dev/null | head -1)
[ -n "$RPM" ] || { echo "FATAL: no certsync-$ver RPM was written" >&2; exit 99; }
echo "# $(basename "$RPM")"

# One line per file: mode owner:group flags digest path.
rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags}. %{FILEDIGESTS}. %{FILENAMES}\n]' \
    "$RPM" > "$T/files"
# has_file REGEX: a line of $T/files matches.
has_file() { grep -Eq -- "$1" "$T/files" || { cat "$T/files"; return 1; }; }
check "name and version" sh -c '[ "$(rpm -qp --qf "%{NAME} %{VERSION}" "$1")" = "certsync $2" ]' \
    sh "$RPM" "$ver"
check "certsyncd in /usr/sbin" has_file '^-rwxr-xr-x root:root .* /usr/sbin/certsyncd$'
check "certsyncctl in /usr/bin" has_file '^-rwxr-xr-x root:root .* /usr/bin/certsyncctl$'
check "the CA process's program in /usr/libexec/certsync" \
    has_file '^-rwxr-xr-x root:root .* /usr/libexec/certsync/certsync-ca$'
for page in man5/certsync.conf.5 man8/certsyncd.8 man8/certsyncctl.8; do
	check "man page $page" has_file " /usr/share/man/$page(\\.gz|\\.bz2|\\.xz|\\.zst)?\$"
done
unit_sum=$(sha256sum < "$CS_SRCDIR/packaging/certsyncd.service" | cut -d' ' -f1)
check "the unit, as packaging/certsyncd.service" \
    has_file " $unit_sum\\. /usr/lib/systemd/system/certsyncd\\.service\$"
check "sysusers.d" has_file ' /usr/lib/sysusers\.d/certsync\.conf$'
check "tmpfiles.d" has_file ' /usr/lib/tmpfiles\.d/certsync\.conf$'
check "/etc/certsync: 0750 root:certsync" has_file '^drwxr-x--- root:certsync .* /etc/certsync$'
check "the configuration: config(noreplace), 0640 root:certsync" \
    has_file '^-rw-r----- root:certsync cn\. .* /etc/certsync/certsync\.conf$'
for d in "" /archive /keystore; do
	check "/var/lib/certsync$d: 0700 certsync:certsync" \
	    has_file "^drwx------ certsync:certsync .* /var/lib/certsync$d\$"
done
check "requires the libraries it links" sh -c \
    'rpm -qpR "$1" | grep -q "^libldap-2\.5\.so" && rpm -qpR "$1" | grep -q "^libcrypto\.so\.3" &&
    rpm -qpR "$1" | grep -q "^libseccomp\.so"' sh "$RPM"

cs_done
