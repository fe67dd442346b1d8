# scripts/setup.sh - sourced by scripts/demo and scripts/check.
#
# Owns: installing what a fresh Debian 12 machine lacks (apt-get, as root)
# and building certsync from scratch in an out-of-tree build directory.
# Never: installs anything not named here, or touches the source tree
# beyond autoreconf's generated files.

# Build tools and libraries, then the independent verifiers the tests use.
CS_BUILD_DEPS="gcc make autoconf automake pkg-config libc6-dev
libssl-dev libldap2-dev libevent-dev libiniparser-dev libsqlite3-dev check
libp11-kit-dev libseccomp-dev"
# What scripts/package needs on top (debhelper 13.11 brings
# dh-sequence-installsysusers).  No fakeroot: debian/control says
# Rules-Requires-Root: no.  The package tests also need rpm (rpmbuild) and
# systemd (systemd-analyze, systemd-sysusers, systemd-tmpfiles); installing
# systemd where it is not PID 1, as in a container, only adds the tools.
CS_PACKAGE_DEPS="debhelper dpkg-dev lintian"
# prometheus only for promtool (agent_http.sh checks /metrics with "promtool
# check metrics"): Debian ships no smaller package with it; it is 19 MB to
# download (96 MB installed, its web UI's JavaScript included), less than
# samba or 389-ds-base.  Its own service is stopped again below.
CS_TEST_DEPS="openssl clang libnss3-tools gnutls-bin gpgsm gpg-agent groff-base
sqlite3 procps slapd ldap-utils libsasl2-modules-gssapi-mit
samba samba-ad-dc samba-ad-provision samba-common-bin winbind krb5-user ldb-tools
389-ds-base iproute2 python3 python3-cryptography softhsm2 libengine-pkcs11-openssl opensc prometheus
$CS_PACKAGE_DEPS rpm systemd"

cs_top=$(cd "$(dirname "$0")/.." && pwd)

cs_install() {
	missing=""
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
		    missing="$missing $pkg"
	done
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "certsync: missing packages:$missing" >&2
		echo "certsync: run this script as root, or: apt-get install$missing" >&2
		exit 69
	fi
	echo "==> installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	# Debian's slapd postinst may start a system slapd on port 389; the
	# tests run their own on loopback, so keep the machine's one out of it.
	case "$missing" in *slapd*)
		service slapd stop >/dev/null 2>&1 || true ;;
	esac
	# Likewise Samba's postinst starts the machine's smbd, nmbd and winbind
	# (and samba-ad-dc once configured); the tests run their own DC
	# (tests/integration/samba.sh), on addresses of their own.
	# prometheus's postinst enables and starts a server on port 9090 of
	# every address; the tests need only its promtool.
	case "$missing" in *prometheus*)
		service prometheus stop >/dev/null 2>&1 || true
		systemctl disable prometheus >/dev/null 2>&1 || true ;;
	esac
	case "$missing" in *samba* | *winbind*)
		for svc in samba-ad-dc smbd nmbd winbind; do
			service "$svc" stop >/dev/null 2>&1 || true
		done ;;
	esac
}

# cs_build DIR [configure args...]: a fresh out-of-tree build in DIR.
cs_build() {
	dir=$1; shift
	[ -x "$cs_top/configure" ] || (cd "$cs_top" && autoreconf -fi >/dev/null 2>&1) ||
	    { echo "certsync: autoreconf failed" >&2; exit 70; }
	if [ -f "$cs_top/config.status" ]; then
		echo "certsync: $cs_top has an in-tree build; run 'make distclean' there first" >&2
		exit 70
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$cs_top/configure" -q "$@") ||
	    { echo "certsync: configure failed in $dir" >&2; exit 70; }
	make -C "$dir" -s -j"$(nproc)" >/dev/null ||
	    { make -C "$dir" -j1 2>&1 | tail -30; echo "certsync: build failed in $dir" >&2; exit 70; }
}
