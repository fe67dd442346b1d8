#!/bin/sh
# unit_security.sh - packaging/certsyncd.service passes systemd's own checks.
#
# Proves that the unit runs the packaged program in the foreground as a
# Type=notify service under the certsync user, with its state directory;
# that "systemd-analyze verify" has nothing to say about it (exit 0 and no
# output: systemd 252 exits 0 even for an unknown key, so silence is the
# test); and that "systemd-analyze security --offline=yes" rates its
# exposure 2.0 or lower, by its --threshold exit status and by the
# "Overall exposure level" it prints.  verify needs ExecStart's program and
# the Documentation= man pages to exist: it checks a copy whose ExecStart is
# this build's certsyncd, with MANPATH at a copy of man/ (package_deb.sh
# verifies the installed unit as it is).  Both checks are also run on a
# worse unit (an unknown key; no sandbox) to show they can fail.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need systemd-analyze man awk sed diff
cs_setup
UNIT="$CS_SRCDIR/packaging/certsyncd.service"
export SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat

# has_line LINE: the unit has exactly this line.
has_line() { grep -qxF -- "$1" "$UNIT"; }
for line in "Type=notify" "NotifyAccess=main" \
    "ExecStart=/usr/sbin/certsyncd -f -c /etc/certsync/certsync.conf" \
    'ExecReload=/bin/kill -HUP $MAINPID' "User=certsync" "Group=certsync" \
    "StateDirectory=certsync" "StateDirectoryMode=0700" \
    "ConfigurationDirectory=certsync" "ProtectSystem=strict" \
    "CapabilityBoundingSet=" "NoNewPrivileges=yes" \
    "SystemCallFilter=@system-service" "UMask=0077"; do
	check "the unit says $line" has_line "$line"
done

# The copy verify can load: this build's program, the man pages beside it.
mkdir -p "$T/man/man5" "$T/man/man8" "$T/unit"
cp "$CS_SRCDIR"/man/*.5 "$T/man/man5/"
cp "$CS_SRCDIR"/man/*.8 "$T/man/man8/"
sed "s|^ExecStart=/usr/sbin/certsyncd |ExecStart=$CS_BUILDDIR/certsyncd |" "$UNIT" \
    > "$T/unit/certsyncd.service"
diff "$UNIT" "$T/unit/certsyncd.service" > "$T/unit.diff" || :
check "the copy differs from the unit in ExecStart only" sh -c \
    '[ "$(grep -c "^[<>]" "$1")" -eq 2 ] && grep -qF "> ExecStart=$2/certsyncd -f " "$1"' \
    sh "$T/unit.diff" "$CS_BUILDDIR"

# verify_silent UNITFILE: systemd-analyze verify exits 0 and prints nothing.
verify_silent() {
	MANPATH="$T/man" systemd-analyze verify "$1" >"$T/verify.out" 2>&1 || {
		cat "$T/verify.out"; return 1; }
	cat "$T/verify.out"
	[ ! -s "$T/verify.out" ]
}
check "systemd-analyze verify: clean" verify_silent "$T/unit/certsyncd.service"
# The same check on a unit with a typo must fail.
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$T/unit/certsyncd.service" \
    > "$T/unit/typo.service"
check_fails "systemd-analyze verify: a misspelt key is caught" \
    verify_silent "$T/unit/typo.service"

# exposure UNITFILE: the "Overall exposure level" systemd-analyze prints.
exposure() {
	systemd-analyze security --offline=yes --no-pager "$1" 2>&1 |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p'
}
# at_most MAX UNITFILE: exposure printed and at most MAX, and --threshold
# (tenths) agrees.
at_most() {
	level=$(exposure "$2")
	echo "exposure of $(basename "$2"): ${level:-(none printed)}"
	[ -n "$level" ] && awk -v l="$level" -v m="$1" 'BEGIN { exit !(l <= m) }' &&
	    systemd-analyze security --offline=yes --no-pager \
	        --threshold="$(awk -v m="$1" 'BEGIN { printf "%d", m * 10 }')" "$2"
}
check "systemd-analyze security: exposure 2.0 or lower" at_most 2.0 "$UNIT"
echo "# exposure: $(exposure "$UNIT")"
# Without the sandbox the same check must fail.
grep -E '^\[|^(Description|Type|NotifyAccess|ExecStart|User|Group)=' "$UNIT" \
    > "$T/unit/bare.service"
check_fails "systemd-analyze security: an unconfined unit is rated worse" \
    at_most 2.0 "$T/unit/bare.service"

cs_done
