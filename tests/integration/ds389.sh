# tests/integration/ds389.sh - a private 389 Directory Server for integration
# tests.
#
# Owns: one ns-slapd (Debian's 389-ds-base) per test, entirely inside
# $T/ds389 (a private prefix: configuration, database, logs, ldapi socket,
# pid file, passwords), listening only on 127.0.0.1 and on that socket,
# killed when the test exits; and, per build directory, a template that every
# test copies (in $DS389_TEMPLATE_DIR, by default
# $CS_BUILDDIR/tests/ds389-template, which "make clean" removes; made by the
# first test that needs it, remade when 389-ds-base, this file or
# schema/389ds/*.ldif change): an instance made by dscreate into a private
# prefix, configured with the files certsync ships in schema/389ds/
# (plugins.ldif, then a restart; service-account.ldif; acl.ldif), applied as
# an administrator applies them, so every test that uses this server also
# proves that those files work.
# Never: uses port 389, the machine's instances (/etc/dirsrv/slapd-*,
# /var/lib/dirsrv, /run/dirsrv), systemd, or any address but 127.0.0.1;
# never puts a password on a command line (files: -y, -T); never reads
# ~/.ldaprc or /etc/ldap/ldap.conf (LDAPNOINIT).
#
# Usage, after lib.sh:
#     . "$CS_SRCDIR/tests/integration/ds389.sh"
#     cs_setup; ds389_start
# ds389_start once per test, after cs_setup; then ds389_stop, ds389_restart
# (same port, configuration and data), ds389_kill (SIGKILL), ds389_admin_modify,
# ds389_admin_search, ds389_svc_search, ds389_svc_modify, ds389_add_user,
# ds389_replace, ds389_rename_user, ds389_delete_user, ds389_get_attr,
# ds389_values, ds389_certs_of, ds389_smime_certs_of, ds389_uniqueid,
# ds389_syncuuid, ds389_agent_conf.  Runs as root only (dscreate's checks,
# and ns-slapd runs as root here: its files are in the test's private,
# mode-700 directory).
#
# Sets and exports: DS389_URI (ldap://127.0.0.1:PORT), DS389_PORT,
# DS389_BASE, DS389_PEOPLE (ou=people,DS389_BASE), DS389_ADMIN_DN
# (cn=Directory Manager), DS389_ADMIN_PW_FILE, DS389_SVC_DN (certsync's
# service account), DS389_SVC_PW_FILE, DS389_LDAPI (the ldapi:// URI of the
# socket; SASL EXTERNAL there as root is cn=Directory Manager), DS389_PID,
# DS389_ERRORS and DS389_ACCESS (the server's error and access logs; the
# access log is unbuffered).  Password files hold the password without a
# newline (the OpenLDAP tools' -y and ldappasswd -T take a file's whole
# contents; certsync its first line).
#
# ns-slapd detaches (in the foreground it writes no error log): it is not a
# child of the test shell, and DS389_PID comes from its pid file.  A watcher
# kills it when the test shell is gone (a test killed before its exit trap
# runs) or after DS389_MAX_RUNTIME seconds (default 1800).
#
# 389 Directory Server takes about 4 s to stop cleanly (ds389_stop,
# ds389_restart); ds389_kill and the exit trap use SIGKILL.

DS389_BASE=dc=example,dc=test
DS389_PEOPLE=ou=people,$DS389_BASE
DS389_ADMIN_DN="cn=Directory Manager"
DS389_SVC_DN=cn=certsync,ou=services,$DS389_BASE
DS389_INSTANCE=certsync
DS389_PID=
DS389_PORT=
DS389_URI=
DS389_SBIN=/usr/sbin
DS389_MAX_RUNTIME=${DS389_MAX_RUNTIME:-1800}
DS389_TEMPLATE_DIR=${DS389_TEMPLATE_DIR:-$CS_BUILDDIR/tests/ds389-template}

# The OpenLDAP client tools, without any ldap.conf or .ldaprc.
_ds389_tool() { LDAPNOINIT=1 "$@"; }

# True when process $1 has exited (gone, or a zombie waiting to be reaped).
_ds389_gone() {
	[ -e "/proc/$1" ] || return 0
	sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null |
	    grep -q '^[ZX]$'
}

# True when process $1 is the ns-slapd of configuration directory $2.
_ds389_is_ours() {
	tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "-D $2 "
}

# A random port in 20000..40000.
_ds389_random_port() {
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' \n')
	echo $((20000 + n % 20001))
}

# Percent-encodes a socket path for an ldapi:// URI.
_ds389_urlenc() {
	printf '%s' "$1" | sed -e 's/%/%25/g' -e 's,/,%2F,g' -e 's/ /%20/g' \
	    -e 's/,/%2C/g' -e 's/:/%3A/g' -e 's/?/%3F/g' -e 's/#/%23/g'
}

# The shipped LDIF file $1, adapted to this server: its example suffix
# becomes DS389_BASE.
_ds389_ldif() {
	sed -e "s/dc=example,dc=org/$DS389_BASE/g" "$CS_SRCDIR/schema/389ds/$1"
}

# _ds389_paths PREFIX [SOCKET]: the instance's paths inside PREFIX (the
# layout dscreate makes there, from _ds389_prefix's defaults.inf); its ldapi
# socket SOCKET, by default PREFIX/run/slapd-certsync.socket.
_ds389_paths() {
	DS389_CONFIG=$1/etc/dirsrv/slapd-$DS389_INSTANCE
	DS389_DB=$1/var/lib/dirsrv/slapd-$DS389_INSTANCE/db
	DS389_LOGS=$1/var/log/dirsrv/slapd-$DS389_INSTANCE
	DS389_ERRORS=$DS389_LOGS/errors
	DS389_ACCESS=$DS389_LOGS/access
	DS389_PIDFILE=$1/run/dirsrv/slapd-$DS389_INSTANCE.pid
	DS389_LOCKDIR=$1/run/lock/dirsrv/slapd-$DS389_INSTANCE
	_ds389_socket "${2:-$1/run/slapd-$DS389_INSTANCE.socket}"
}

# _ds389_socket PATH: the ldapi socket is PATH (ns-slapd refuses one of 104
# characters or more: a template in a deep build directory has its socket
# in the scratch directory of the test that builds it).
_ds389_socket() {
	DS389_SOCKET=$1
	DS389_LDAPI=ldapi://$(_ds389_urlenc "$DS389_SOCKET")
}

# _ds389_unfold FILE: FILE with its LDIF continuation lines joined (ns-slapd
# folds dse.ldif at 78 columns, paths included).
_ds389_unfold() {
	awk 'NR > 1 && /^ / { line = line substr($0, 2); next }
	     NR > 1 { print line } { line = $0 } END { if (NR) print line }' "$1"
}

# _ds389_prefix PREFIX SOCKET: what dscreate needs to put an instance into PREFIX
# (what "dscreate ds-root" does for a user, which it refuses to root): a
# defaults.inf with every path of an instance in PREFIX, without systemd,
# running as root; the server's own files stay in /usr.  The dse.ldif
# template gains nsslapd-listenhost, so that the instance listens on
# 127.0.0.1 from its very first start, during dscreate.
_ds389_prefix() {
	p=$1 sock=$2
	mkdir -p "$p/share/dirsrv/inf" "$p/etc/dirsrv" "$p/tmp" &&
	cp -r /usr/share/dirsrv/data "$p/share/dirsrv/" &&
	cp -r /etc/dirsrv/schema /etc/dirsrv/config "$p/etc/dirsrv/" || return 1
	sed -i 's/^nsslapd-port: %ds_port%$/&\nnsslapd-listenhost: 127.0.0.1/' \
	    "$p/share/dirsrv/data/template-dse.ldif"
	grep -q '^nsslapd-listenhost: 127.0.0.1$' \
	    "$p/share/dirsrv/data/template-dse.ldif" || {
		echo "ds389: no nsslapd-port line in 389-ds-base's template-dse.ldif" >&2
		return 1
	}
	lib=$(sed -n 's/^lib_dir = //p' /usr/share/dirsrv/inf/defaults.inf)
	sed -e "s| /| $p/|" -e 's/^with_systemd = .*/with_systemd = 0/' \
	    -e 's/^with_selinux = .*/with_selinux = no/' \
	    -e 's/^user = .*/user = root/' -e 's/^group = .*/group = root/' \
	    -e "s|^prefix = .*|prefix = $p|" -e 's|^bin_dir = .*|bin_dir = /usr/bin|' \
	    -e "s|^sbin_dir = .*|sbin_dir = $DS389_SBIN|" \
	    -e "s|^lib_dir = .*|lib_dir = $lib|" \
	    -e "s|^plugin_dir = .*|plugin_dir = $lib/dirsrv/plugins|" \
	    -e 's|^system_schema_dir = .*|system_schema_dir = /usr/share/dirsrv/schema|' \
	    -e "s|^data_dir = .*|data_dir = $p/share|" \
	    -e "s|^ldapi = .*|ldapi = $sock|" \
	    /usr/share/dirsrv/inf/defaults.inf > "$p/share/dirsrv/inf/defaults.inf"
}

# _ds389_create PREFIX: dscreate from-file into PREFIX on a free port; the
# Directory Manager's password in PREFIX/admin.pass.
_ds389_create() {
	p=$1
	(umask 077; printf '%s' "$(openssl rand -hex 12)" > "$p/admin.pass")
	tries=0
	while [ $tries -lt 20 ]; do
		tries=$((tries + 1))
		port=$(_ds389_random_port)
		# The inf holds the password: mode 600, and gone right after.
		(umask 077; cat > "$p/instance.inf" <<EOF
[general]
full_machine_name = localhost
start = False
selinux = False
systemd = False
[slapd]
instance_name = $DS389_INSTANCE
port = $port
secure_port = $((port + 1))
self_sign_cert = False
root_password = $(cat "$p/admin.pass")
[backend-userroot]
suffix = $DS389_BASE
create_suffix_entry = True
EOF
		)
		c_rc=0
		PREFIX=$p dscreate from-file "$p/instance.inf" \
		    >"$p/dscreate.log" 2>&1 || c_rc=$?
		rm -f "$p/instance.inf"
		[ $c_rc -eq 0 ] && return 0
		grep -q 'already in use' "$p/dscreate.log" && continue
		break
	done
	echo "dscreate from-file failed:" >&2
	cat "$p/dscreate.log" >&2
	return 1
}

# What the tests need of the server beyond the recipe: small fixed caches
# (389-ds sizes them from the machine's memory, gigabytes, by default), and
# an unbuffered access log that tests can read.  The sizes can be set only
# once autosizing is off, in an earlier change; all take effect at the next
# start.
_ds389_tuning() {
	cat <<EOF
dn: cn=config,cn=ldbm database,cn=plugins,cn=config
changetype: modify
replace: nsslapd-cache-autosize
nsslapd-cache-autosize: 0

dn: cn=config,cn=ldbm database,cn=plugins,cn=config
changetype: modify
replace: nsslapd-dbcachesize
nsslapd-dbcachesize: 16777216

dn: cn=userroot,cn=ldbm database,cn=plugins,cn=config
changetype: modify
replace: nsslapd-cachememsize
nsslapd-cachememsize: 16777216
-
replace: nsslapd-dncachememsize
nsslapd-dncachememsize: 16777216

dn: cn=config
changetype: modify
replace: nsslapd-accesslog-logbuffering
nsslapd-accesslog-logbuffering: off
EOF
}

# _ds389_apply WHAT: the LDIF on stdin, as the Directory Manager over ldapi.
_ds389_apply() {
	_ds389_tool ldapmodify -Q -Y EXTERNAL -H "$DS389_LDAPI" \
	    >"$T/ds389-apply.log" 2>&1 || {
		echo "ds389: applying $1 failed:" >&2
		cat "$T/ds389-apply.log" >&2
		return 1
	}
}

# _ds389_recipe PREFIX: the shipped configuration, as an administrator
# applies it, on the running template server: plugins.ldif (in force after
# the restart _ds389_build does), the base entries, service-account.ldif and
# its password (ldappasswd -T), acl.ldif.
_ds389_recipe() {
	p=$1
	_ds389_tuning | _ds389_apply "the harness's tuning" &&
	_ds389_ldif plugins.ldif | _ds389_apply schema/389ds/plugins.ldif &&
	printf 'dn: %s\nchangetype: add\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n' \
	    "$DS389_PEOPLE" | _ds389_apply "the people entry" &&
	_ds389_ldif service-account.ldif |
	    _ds389_apply schema/389ds/service-account.ldif || return 1
	(umask 077; printf '%s' "$(openssl rand -hex 12)" > "$p/certsync.pass")
	_ds389_tool ldappasswd -Q -Y EXTERNAL -H "$DS389_LDAPI" \
	    -T "$p/certsync.pass" "$DS389_SVC_DN" >"$T/ds389-apply.log" 2>&1 || {
		echo "ds389: setting the service account's password failed:" >&2
		cat "$T/ds389-apply.log" >&2
		return 1
	}
	_ds389_ldif acl.ldif | _ds389_apply schema/389ds/acl.ldif
}

# _ds389_build PREFIX: a new template in PREFIX: dscreate, the recipe, a
# restart that starts the plugins (the retro changelog makes its database),
# a clean stop; then without what a copy must not inherit (the database
# environment's region files, logs, pid file).
_ds389_build() {
	p=$1
	_ds389_paths "$p" "$T/ds389-template.socket"
	_ds389_prefix "$p" "$DS389_SOCKET" && _ds389_create "$p" || return 1
	DS389_PORT=$(sed -n 's/^nsslapd-port: //p' "$DS389_CONFIG/dse.ldif")
	DS389_URI=ldap://127.0.0.1:$DS389_PORT
	_ds389_launch && _ds389_recipe "$p" && ds389_stop &&
	_ds389_launch || { ds389_kill; return 1; }
	# The retro changelog is there, and syncrepl answers.
	_ds389_tool ldapsearch -Q -Y EXTERNAL -H "$DS389_LDAPI" -b cn=changelog \
	    -s base '(objectClass=*)' 1.1 >"$p/check.log" 2>&1 &&
	_ds389_tool ldapsearch -Q -Y EXTERNAL -H "$DS389_LDAPI" -b "$DS389_BASE" \
	    -E '!sync=ro' '(objectClass=*)' 1.1 >>"$p/check.log" 2>&1 || {
		echo "ds389: the template's retro changelog or syncrepl does not work:" >&2
		cat "$p/check.log" >&2
		tail -n 30 "$DS389_ERRORS" >&2
		ds389_kill
		return 1
	}
	ds389_stop || return 1
	rm -f "$DS389_DB"/__db.* "$DS389_CONFIG"/dse.ldif.bak \
	    "$DS389_CONFIG"/dse.ldif.startOK "$DS389_CONFIG"/dse.ldif.tmp \
	    "$DS389_PIDFILE" "$DS389_SOCKET" "$p/check.log"
	for f in "$DS389_LOGS"/*; do : > "$f"; done
	# Copies replace this path in the files that name it.
	printf '%s\n' "$p" > "$p/prefix"
	touch "$p/ready"
}

# _ds389_relocate OLD NEW: the copy in NEW of the template made in OLD
# names its own files, and its own ldapi socket, DS389_SOCKET.
_ds389_relocate() {
	[ ${#DS389_SOCKET} -lt 104 ] || {
		echo "ds389_start: the ldapi socket $DS389_SOCKET is too long for ns-slapd (104 characters or more); set TMPDIR shorter" >&2
		return 1
	}
	_ds389_unfold "$DS389_CONFIG/dse.ldif" | sed -e "s|$1/|$2/|g" \
	    -e "s|^nsslapd-ldapifilepath: .*|nsslapd-ldapifilepath: $DS389_SOCKET|" \
	    > "$DS389_CONFIG/dse.ldif.new" &&
	mv "$DS389_CONFIG/dse.ldif.new" "$DS389_CONFIG/dse.ldif" &&
	sed -i "s|$1/|$2/|g" "$DS389_CONFIG/pkcs11.txt" || {
		echo "ds389_start: cannot rewrite the paths in $DS389_CONFIG" >&2
		return 1
	}
}

# Sets DS389_TEMPLATE to this build directory's template instance, making
# it first if needed.  Tests in parallel take turns (flock): one builds, the
# others wait for it, at most 180 s.
_ds389_template() {
	top=$DS389_TEMPLATE_DIR
	# Named after what makes it: 389-ds-base's version, this file, the recipe.
	key=$("$DS389_SBIN/ns-slapd" -v 2>/dev/null | sed -n 's,^389-Directory/,,p' |
	    tr -c 'A-Za-z0-9.\n' _)-$(cat "$CS_SRCDIR/tests/integration/ds389.sh" \
	    "$CS_SRCDIR"/schema/389ds/*.ldif | cksum | cut -d' ' -f1)
	DS389_TEMPLATE=$top/$key
	[ -f "$DS389_TEMPLATE/ready" ] && return 0
	mkdir -p "$top"
	(
		flock -w 180 9 || {
			echo "ds389_start: waited 180 s for $top/lock" >&2
			exit 1
		}
		[ -f "$DS389_TEMPLATE/ready" ] && exit 0
		# Templates of another 389-ds or harness version are stale.
		for old in "$top"/*; do
			[ "$old" = "$top/lock" ] || rm -rf "$old"
		done
		_ds389_build "$DS389_TEMPLATE.new" || exit 1
		mv "$DS389_TEMPLATE.new" "$DS389_TEMPLATE"
	) 9>"$top/lock"
}

# _ds389_watch PID: kills ns-slapd PID when this test shell is gone or
# after DS389_MAX_RUNTIME seconds, whichever comes first; a process of its
# own (not a child of the test shell, so that "wait" does not wait for it).
_ds389_watch() {
	w_pid=$1 w_shell=$$ w_conf=$DS389_CONFIG
	( (
		i=0
		while [ $i -lt "$DS389_MAX_RUNTIME" ] && kill -0 "$w_shell" 2>/dev/null &&
		    ! _ds389_gone "$w_pid"; do
			sleep 1
			i=$((i + 1))
		done
		_ds389_is_ours "$w_pid" "$w_conf" && kill -KILL "$w_pid" 2>/dev/null
	) </dev/null >/dev/null 2>&1 & )
}

# Starts ns-slapd on DS389_PORT and waits until it answers.  Returns 0 when
# it serves, 2 when the port was taken (the caller may pick another), 1 else.
_ds389_launch() {
	l_out=$T/ds389-launch.out
	rm -f "$DS389_PIDFILE"
	sed -i "s/^nsslapd-port: .*/nsslapd-port: $DS389_PORT/" "$DS389_CONFIG/dse.ldif"
	# ns-slapd binds its listeners before it detaches, and fails if it
	# cannot; then it opens the databases and starts serving.
	if ! "$DS389_SBIN/ns-slapd" -D "$DS389_CONFIG" -i "$DS389_PIDFILE" \
	    >"$l_out" 2>&1; then
		grep -q 'address is in use' "$l_out" && return 2
		echo "ns-slapd did not start on port $DS389_PORT:" >&2
		sed 's/^/    /' "$l_out" >&2
		return 1
	fi
	# Readiness: the ldapi socket is private to this server; its pid file
	# names a process that runs our configuration.
	i=0
	while [ $i -lt 300 ]; do
		DS389_PID=$(cat "$DS389_PIDFILE" 2>/dev/null || :)
		if [ -n "$DS389_PID" ] && _ds389_is_ours "$DS389_PID" "$DS389_CONFIG" &&
		    _ds389_tool ldapsearch -x -H "$DS389_LDAPI" -b "" -s base \
		    >/dev/null 2>&1; then
			_ds389_watch "$DS389_PID"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "ns-slapd did not answer on port $DS389_PORT within 30 s; its errors log:" >&2
	tail -n 40 "$DS389_ERRORS" | sed 's/^/    /' >&2
	[ -z "$DS389_PID" ] || ! _ds389_is_ours "$DS389_PID" "$DS389_CONFIG" ||
	    ds389_kill
	return 1
}

# ds389_start: a copy of the template instance in $T/ds389, started on a
# new port.
ds389_start() {
	cs_need "$DS389_SBIN/ns-slapd" dscreate ldapsearch ldapmodify ldappasswd \
	    openssl flock od base64
	[ "$(id -u)" -eq 0 ] || {
		echo "FATAL: ds389.sh runs as root (dscreate, ns-slapd as root)" >&2
		exit 99
	}
	_ds389_template || return 1
	d=$T/ds389
	mkdir -p "$d"
	chmod 700 "$d"
	cp -a "$DS389_TEMPLATE/." "$d/" || {
		echo "ds389_start: copying $DS389_TEMPLATE failed" >&2
		return 1
	}
	rm -f "$d/ready" "$d/prefix"
	_ds389_paths "$d"
	_ds389_relocate "$(cat "$DS389_TEMPLATE/prefix")" "$d" || return 1
	DS389_ADMIN_PW_FILE=$d/admin.pass
	DS389_SVC_PW_FILE=$d/certsync.pass

	cs_on_exit _ds389_cleanup
	tries=0
	while :; do
		tries=$((tries + 1))
		DS389_PORT=$(_ds389_random_port)
		DS389_URI=ldap://127.0.0.1:$DS389_PORT
		l_rc=0; _ds389_launch || l_rc=$?
		[ $l_rc -eq 0 ] && break
		[ $l_rc -eq 2 ] && [ $tries -lt 20 ] && continue
		[ $l_rc -eq 2 ] && echo "ds389_start: no free port in 20 tries" >&2
		return 1
	done
	export DS389_URI DS389_PORT DS389_BASE DS389_PEOPLE DS389_ADMIN_DN \
	    DS389_ADMIN_PW_FILE DS389_SVC_DN DS389_SVC_PW_FILE DS389_LDAPI \
	    DS389_PID DS389_ERRORS DS389_ACCESS
}

# _ds389_reaped PID: the exited ns-slapd PID is reaped too, or 5 s have
# passed (it detached, so PID 1 reaps it: within about 1 s here); and its
# lock file is gone, which a SIGKILL leaves behind and which makes a new
# ns-slapd refuse to start while a zombie of the old one exists.
_ds389_reaped() {
	i=0
	while [ $i -lt 50 ] && [ -e "/proc/$1" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$DS389_LOCKDIR/server/$1"
}

# ds389_stop: stops ns-slapd (SIGTERM, then SIGKILL after 30 s): it closes
# its databases cleanly, which takes 2 to 4 s.
ds389_stop() {
	[ -n "${DS389_PID:-}" ] || return 0
	kill -TERM "$DS389_PID" 2>/dev/null || :
	i=0
	while [ $i -lt 300 ] && ! _ds389_gone "$DS389_PID"; do
		sleep 0.1
		i=$((i + 1))
	done
	_ds389_gone "$DS389_PID" || kill -KILL "$DS389_PID" 2>/dev/null || :
	_ds389_reaped "$DS389_PID"
	DS389_PID=
}

# _ds389_cleanup: SIGKILL, registered with cs_on_exit (the data is thrown
# away); waits until the process has exited, not until it is reaped.
_ds389_cleanup() {
	[ -n "${DS389_PID:-}" ] || return 0
	kill -KILL "$DS389_PID" 2>/dev/null || :
	i=0
	while [ $i -lt 100 ] && ! _ds389_gone "$DS389_PID"; do
		sleep 0.1
		i=$((i + 1))
	done
	DS389_PID=
}

# ds389_kill: SIGKILL, as a crash; no restart.  Waits until it is gone, so
# that ds389_restart can start the server again.
ds389_kill() {
	k_pid=${DS389_PID:-}
	_ds389_cleanup
	[ -z "$k_pid" ] || _ds389_reaped "$k_pid"
}

# ds389_restart: stops ns-slapd if it runs, starts it again on the same port
# with the same configuration and data.
ds389_restart() {
	[ -n "$DS389_PORT" ] || { echo "ds389_restart: ds389_start first" >&2; return 1; }
	ds389_stop
	_ds389_launch || {
		echo "ds389_restart: could not start again on port $DS389_PORT" >&2
		return 1
	}
	export DS389_PID
}

# ds389_admin_modify [OPTION...]: applies the LDIF on stdin as the Directory
# Manager (cn=config too); options (such as -c) go to ldapmodify.
# shellcheck disable=SC2120
ds389_admin_modify() {
	_ds389_tool ldapmodify -x -H "$DS389_URI" -D "$DS389_ADMIN_DN" \
	    -y "$DS389_ADMIN_PW_FILE" "$@"
}

# ds389_admin_search ARGS...: ldapsearch (unwrapped LDIF) as the Directory
# Manager.
ds389_admin_search() {
	_ds389_tool ldapsearch -o ldif-wrap=no -x -H "$DS389_URI" \
	    -D "$DS389_ADMIN_DN" -y "$DS389_ADMIN_PW_FILE" "$@"
}

# ds389_svc_search ARGS...: ldapsearch (unwrapped LDIF) bound as certsync's
# service account; pass -b, the filter, attributes, -E sync=ro and so on.
ds389_svc_search() {
	_ds389_tool ldapsearch -o ldif-wrap=no -x -H "$DS389_URI" \
	    -D "$DS389_SVC_DN" -y "$DS389_SVC_PW_FILE" "$@"
}

# ds389_svc_modify [OPTION...]: applies the LDIF on stdin as certsync's
# service account.
# shellcheck disable=SC2120
ds389_svc_modify() {
	_ds389_tool ldapmodify -x -H "$DS389_URI" -D "$DS389_SVC_DN" \
	    -y "$DS389_SVC_PW_FILE" "$@"
}

# ds389_add_user UID MAIL "DISPLAY NAME" [GIVEN SN]: an inetOrgPerson
# uid=UID,ou=people.  cn is the display name; sn defaults to its last word.
ds389_add_user() {
	u_uid=$1 u_mail=$2 u_name=$3 u_given=${4:-} u_sn=${5:-}
	[ -n "$u_sn" ] || u_sn=${u_name##* }
	{
		printf 'dn: uid=%s,%s\nchangetype: add\n' "$u_uid" "$DS389_PEOPLE"
		printf 'objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n'
		printf 'objectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n' \
		    "$u_uid" "$u_name" "$u_sn"
		printf 'displayName: %s\nmail: %s\n' "$u_name" "$u_mail"
		[ -z "$u_given" ] || printf 'givenName: %s\n' "$u_given"
	} | ds389_admin_modify
}

# ds389_replace UID ATTR [VALUE...]: as the Directory Manager, the user's
# ATTR becomes exactly VALUE... (none: the attribute is removed).
ds389_replace() {
	r_uid=$1 r_attr=$2; shift 2
	{
		printf 'dn: uid=%s,%s\nchangetype: modify\nreplace: %s\n' \
		    "$r_uid" "$DS389_PEOPLE" "$r_attr"
		for v in "$@"; do printf '%s: %s\n' "$r_attr" "$v"; done
	} | ds389_admin_modify
}

# ds389_rename_user UID NEWUID [NEWSUPERIOR]: modrdn of uid=UID,ou=people to
# uid=NEWUID (the old RDN value deleted), below NEWSUPERIOR if given.
ds389_rename_user() {
	{
		printf 'dn: uid=%s,%s\nchangetype: modrdn\nnewrdn: uid=%s\ndeleteoldrdn: 1\n' \
		    "$1" "$DS389_PEOPLE" "$2"
		[ -z "${3:-}" ] || printf 'newsuperior: %s\n' "$3"
	} | ds389_admin_modify
}

# ds389_delete_user UID: deletes uid=UID,ou=people.
ds389_delete_user() {
	printf 'dn: uid=%s,%s\nchangetype: delete\n' "$1" "$DS389_PEOPLE" |
	    ds389_admin_modify
}

# ds389_get_attr DN ATTR...: the entry's ATTR lines as ldapsearch -LLL prints
# them (unwrapped; binary values base64 after "::"), read as the Directory
# Manager.  Fails when the entry does not exist.
ds389_get_attr() {
	g_dn=$1; shift
	ds389_admin_search -LLL -b "$g_dn" -s base '(objectClass=*)' "$@" \
	    > "$T/ds389/get.out" || return
	sed -e '/^dn::\{0,1\} /d' -e '/^$/d' "$T/ds389/get.out"
}

# ds389_values DN ATTR: the values of ATTR (with any option, such as
# userCertificate;binary) of the entry, one a line, read as the Directory
# Manager: text as it is, values that ldapsearch base64-encodes (binary
# ones, and text it cannot print as it is) in base64.  Nothing when the
# entry has no ATTR; fails when it does not exist.
ds389_values() {
	ds389_get_attr "$1" "$2" > "$T/ds389/values.out" || return
	awk -v a="$2" '
	    { i = index($0, ":"); if (i == 0) next
	      name = tolower(substr($0, 1, i - 1)); sub(/;.*/, "", name)
	      want = tolower(a); sub(/;.*/, "", want)
	      if (name != want) next
	      v = substr($0, i + 1); sub(/^:? /, "", v); print v }' "$T/ds389/values.out"
}

# ds389_certs_of DN: the subject and subjectAltName of each certificate in
# the entry's userCertificate;binary, one line each.
ds389_certs_of() {
	ds389_values "$1" 'userCertificate;binary' | while read -r c_b64; do
		printf '%s' "$c_b64" | base64 -d | openssl x509 -inform DER -noout \
		    -subject -ext subjectAltName 2>/dev/null | tr '\n' ' '
		echo
	done
}

# ds389_smime_certs_of DN: the subject of each certificate in each PKCS#7
# value of the entry's userSMIMECertificate, one line each.
ds389_smime_certs_of() {
	ds389_values "$1" userSMIMECertificate | while read -r c_b64; do
		printf '%s' "$c_b64" | base64 -d | openssl pkcs7 -inform DER \
		    -print_certs -noout 2>/dev/null | sed -n 's/^subject=//p'
	done
}

# ds389_uniqueid DN: the entry's nsUniqueId, as the server writes it
# (8-8-8-8 hex digits: 8962542c-f01811f1-a125818e-39b2771d).
ds389_uniqueid() {
	ds389_values "$1" nsUniqueId
}

# ds389_syncuuid NSUNIQUEID: the entryUUID that 389-ds's Content
# Synchronization sends for that entry in its syncrepl state controls and
# syncIdSets: the same 16 bytes, in the RFC 4122 text form
# (8962542c-f018-11f1-a125-818e39b2771d).
ds389_syncuuid() {
	printf '%s\n' "$1" | tr -d '-' | tr 'A-F' 'a-f' |
	    sed -n 's/^\([0-9a-f]\{8\}\)\([0-9a-f]\{4\}\)\([0-9a-f]\{4\}\)\([0-9a-f]\{4\}\)\([0-9a-f]\{12\}\)$/\1-\2-\3-\4-\5/p'
}

# ds389_agent_conf [LINE...]: appends to $CONF the [directory] section for
# certsyncd against this server (its users under DS389_PEOPLE, as the
# service account, network_timeout 5, reconnect_max 2); each LINE (such as
# "source = poll") goes into the section too.
ds389_agent_conf() {
	{
		printf '[directory]\nuri = %s\nbase = %s\n' "$DS389_URI" "$DS389_PEOPLE"
		printf 'bind_dn = %s\nbind_password_file = %s\n' \
		    "$DS389_SVC_DN" "$DS389_SVC_PW_FILE"
		printf 'network_timeout = 5\nreconnect_max = 2\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >> "$CONF"
}
