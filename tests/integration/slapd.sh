# tests/integration/slapd.sh - a private OpenLDAP server for integration tests.
#
# Owns: one slapd per test, entirely inside $T/slapd (cn=config, database,
# passwords, ldapi socket, log), listening only on 127.0.0.1 and on that
# socket, stopped when the test exits.  It is configured with the LDIF that
# certsync ships in schema/openldap/ (syncprov.ldif, indexes.ldif, acl.ldif,
# service-account.ldif), applied the way an administrator would, so every test
# that uses this server also proves that those files work.
# Never: uses port 389, the system slapd, /etc/ldap/slapd.d, or any address but
# the loopback one; never reads ~/.ldaprc or /etc/ldap/ldap.conf (LDAPNOINIT).
#
# Usage, after lib.sh:
#     . "$CS_SRCDIR/tests/integration/slapd.sh"
#     cs_setup; slapd_start
# slapd_start once per test, after cs_setup; then slapd_stop, slapd_restart
# (same ports, config and data), slapd_kill (SIGKILL), ldap_admin_modify,
# ldap_config_modify, ldap_add_user, ldap_get_attr, ldap_svc_search.
#
# Sets and exports: SLAPD_URI (ldap://127.0.0.1:PORT), SLAPD_PORT, SLAPD_BASE,
# SLAPD_PEOPLE (ou=people,SLAPD_BASE), SLAPD_ADMIN_DN, SLAPD_ADMIN_PW_FILE,
# SLAPD_SVC_DN (certsync's service account), SLAPD_SVC_PW_FILE, SLAPD_LDAPI
# (the ldapi:// URI of the socket, where EXTERNAL as this uid manages
# cn=config).  Password files hold the password without a newline (the
# OpenLDAP tools' -y takes a file's whole contents; certsync its first line).
#
# slapd runs in the foreground as a background child of the test shell
# (SLAPD_PID): a test that runs "wait" with no operand waits for it too.
#
# TLS, asked for by setting before slapd_start:
#     SLAPD_TLS=1     a server certificate for 127.0.0.1 (keys EC P-256) from a
#                     throwaway CA of the harness's own, in $T/slapd/tls, is in
#                     cn=config from the first start (StartTLS on SLAPD_URI);
#                     slapd also trusts that CA for client certificates
#                     (olcTLSCACertificateFile), but asks for none: setting
#                     olcTLSVerifyClient is up to the test.
#     SLAPD_LDAPS=1   SLAPD_TLS, plus an ldaps:// listener on a second random
#                     port of 127.0.0.1.
# and then sets and exports SLAPD_TLS_CA (the CA's certificate: what a client
# trusts), SLAPD_LDAPS_URI (ldaps://127.0.0.1:PORT2) and SLAPD_LDAPS_PORT;
# slapd_client_cert issues client certificates from the same CA.  The OpenLDAP
# tools here run with LDAPNOINIT, which also drops LDAPTLS_*: they use
# SLAPD_URI without TLS.
# Benchmarks with many users, before slapd_start:
#     SLAPD_SVC_UNLIMITED=1   the service account searches without slapd's
#                     size and time limits (olcLimits on the database; the
#                     default sizelimit of 500 entries fails certsync's
#                     syncrepl refresh of more users with "Size limit
#                     exceeded").  Tests leave it unset: they run with the
#                     limits an administrator gets from the shipped LDIF.
#     SLAPD_DB_MAXSIZE=BYTES  the database's olcDbMaxSize (default 64 MiB).
# SLAPD_DEBUG=LEVEL before slapd_start (default none) is slapd's -d: "stats"
# writes each connection, TLS session and bind (with the DN it bound as) to
# $T/slapd/slapd.log, which every (re)start empties.

SLAPD_BASE=dc=example,dc=test
SLAPD_PEOPLE=ou=people,$SLAPD_BASE
SLAPD_ADMIN_DN=cn=admin,$SLAPD_BASE
SLAPD_SVC_DN=cn=certsync,ou=services,$SLAPD_BASE
SLAPD_PID=
SLAPD_PORT=
SLAPD_URI=
SLAPD_LDAPS_PORT=
SLAPD_LDAPS_URI=
SLAPD_TLS_CA=
SLAPD_TLS=${SLAPD_TLS:-}
SLAPD_LDAPS=${SLAPD_LDAPS:-}
SLAPD_DEBUG=${SLAPD_DEBUG:-none}
SLAPD_SVC_UNLIMITED=${SLAPD_SVC_UNLIMITED:-}
SLAPD_DB_MAXSIZE=${SLAPD_DB_MAXSIZE:-67108864}
SLAPD_SBIN=/usr/sbin
SLAPD_MODULES=/usr/lib/ldap
SLAPD_SCHEMA=/etc/ldap/schema

# The OpenLDAP client tools, without any ldap.conf or .ldaprc.
_slapd_tool() { LDAPNOINIT=1 "$@"; }

# Percent-encodes a socket path for an ldapi:// URI.
_slapd_urlenc() {
	printf '%s' "$1" | sed -e 's/%/%25/g' -e 's,/,%2F,g' -e 's/ /%20/g' \
	    -e 's/,/%2C/g' -e 's/:/%3A/g' -e 's/?/%3F/g' -e 's/#/%23/g'
}

# A random port in 20000..40000.
_slapd_random_port() {
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' \n')
	echo $((20000 + n % 20001))
}

# True when process $1 has exited (gone, or a zombie waiting to be reaped).
_slapd_gone() {
	[ -e "/proc/$1" ] || return 0
	sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null |
	    grep -q '^[ZX]$'
}

# The shipped LDIF file $1, adapted to this server: its example base
# becomes SLAPD_BASE.  The database stays olcDatabase={1}mdb, as here.
_slapd_ldif() {
	sed -e "s/dc=example,dc=org/$SLAPD_BASE/g" \
	    "$CS_SRCDIR/schema/openldap/$1"
}

# The harness's TLS CA and slapd's certificate for 127.0.0.1, in $T/slapd/tls.
_slapd_tls_files() {
	tls_d=$T/slapd/tls
	mkdir -p "$tls_d"
	chmod 700 "$tls_d"
	SLAPD_TLS_CA=$tls_d/ca.crt
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$tls_d/ca.key" \
	    -subj "/O=certsync tests/CN=slapd test CA $$" -days 2 \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign \
	    -out "$SLAPD_TLS_CA" 2>"$tls_d/openssl.log" ||
	    ! _slapd_issue "/CN=127.0.0.1" "$tls_d/server" \
	    "subjectAltName = IP:127.0.0.1" "extendedKeyUsage = serverAuth"; then
		echo "slapd_start: cannot make the TLS certificates:" >&2
		cat "$tls_d/openssl.log" >&2
		return 1
	fi
}

# _slapd_issue SUBJECT FILE EXTENSION...: FILE.key (a new EC P-256 key, mode
# 0600) and FILE.crt, its certificate from the harness's TLS CA.
_slapd_issue() {
	i_subj=$1 i_out=$2 tls_d=$T/slapd/tls
	shift 2
	printf '%s\n' "keyUsage = critical, digitalSignature" "$@" > "$i_out.ext"
	(umask 077
	 openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$i_out.key" -subj "$i_subj" -out "$i_out.csr") \
	    2>>"$tls_d/openssl.log" &&
	openssl x509 -req -in "$i_out.csr" -CA "$tls_d/ca.crt" \
	    -CAkey "$tls_d/ca.key" -CAcreateserial -CAserial "$tls_d/ca.srl" \
	    -days 2 -extfile "$i_out.ext" -out "$i_out.crt" \
	    2>>"$tls_d/openssl.log" &&
	rm -f "$i_out.csr" "$i_out.ext"
}

# slapd_client_cert SUBJECT FILE: a TLS client certificate (clientAuth) from
# the harness's CA, which slapd trusts, for SUBJECT ("/O=.../CN=..."):
# FILE.crt, and its key FILE.key (mode 0600).  After slapd_start with TLS.
slapd_client_cert() {
	[ -n "$SLAPD_TLS_CA" ] || {
		echo "slapd_client_cert: slapd_start with SLAPD_TLS=1 first" >&2
		return 1
	}
	_slapd_issue "$1" "$2" "extendedKeyUsage = clientAuth" || {
		echo "slapd_client_cert: cannot issue $2.crt:" >&2
		cat "$T/slapd/tls/openssl.log" >&2
		return 1
	}
}

# Writes $T/slapd/generated.ldif: the minimal cn=config of a fresh Debian
# slapd (same schemas, module entry, database numbers and default ACLs), but
# everything in $T/slapd and cn=config managed by this uid over ldapi.
_slapd_config() {
	d=$T/slapd
	me="gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth"
	admin_hash=$(_slapd_tool "$SLAPD_SBIN/slappasswd" -T "$SLAPD_ADMIN_PW_FILE")
	{
		cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcArgsFile: $d/slapd.args
olcLogLevel: none
EOF
		[ -z "$SLAPD_TLS_CA" ] || cat <<EOF
olcTLSCACertificateFile: $SLAPD_TLS_CA
olcTLSCertificateFile: $d/tls/server.crt
olcTLSCertificateKeyFile: $d/tls/server.key
EOF
		cat <<EOF

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $SLAPD_MODULES
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
		for s in core cosine nis inetorgperson; do
			cat "$SLAPD_SCHEMA/$s.ldif"
			echo
		done
		cat <<EOF
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=$me manage by * break
olcRootDN: $me

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $d/db
olcSuffix: $SLAPD_BASE
olcRootDN: $SLAPD_ADMIN_DN
olcRootPW: $admin_hash
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to attrs=shadowLastChange by self write by * read
olcAccess: {2}to * by * read
olcLastMod: TRUE
olcDbIndex: objectClass eq
olcDbIndex: cn,uid eq
olcDbMaxSize: $SLAPD_DB_MAXSIZE
EOF
		[ -z "$SLAPD_SVC_UNLIMITED" ] || cat <<EOF
olcLimits: dn.exact="$SLAPD_SVC_DN" size=unlimited time=unlimited
EOF
	} > "$d/generated.ldif"
}

# Starts slapd on SLAPD_PORT and waits until it answers.  Returns 0 when it
# serves, 2 when the port was taken (the caller may pick another), 1 else.
_slapd_launch() {
	d=$T/slapd
	urls="ldap://127.0.0.1:$SLAPD_PORT/ $SLAPD_LDAPI"
	[ -z "$SLAPD_LDAPS_URI" ] || urls="$urls $SLAPD_LDAPS_URI/"
	: > "$d/slapd.log"
	"$SLAPD_SBIN/slapd" -d "$SLAPD_DEBUG" -F "$d/config" \
	    -h "$urls" >>"$d/slapd.log" 2>&1 &
	SLAPD_PID=$!
	echo "$SLAPD_PID" > "$d/slapd.pid"
	# Readiness: the ldapi socket is private to this server, so an answer
	# there cannot come from another server holding the port; slapd binds
	# every listener before it serves any, so the TCP one is bound too.
	i=0
	while [ $i -lt 100 ]; do
		if _slapd_tool ldapsearch -x -H "$SLAPD_LDAPI" -b "" -s base \
		    >/dev/null 2>&1; then
			_slapd_tool ldapsearch -x -H "$SLAPD_URI" -b "" -s base \
			    >/dev/null 2>&1 && return 0
		fi
		if _slapd_gone "$SLAPD_PID"; then
			wait "$SLAPD_PID" || :
			SLAPD_PID=
			grep -q 'Address already in use' "$d/slapd.log" && return 2
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "slapd did not start on port" \
	    "$SLAPD_PORT${SLAPD_LDAPS_PORT:+ and $SLAPD_LDAPS_PORT}; its log:" >&2
	sed 's/^/    /' "$d/slapd.log" >&2
	slapd_kill
	return 1
}

# slapd_start: builds the server in $T/slapd, starts it, applies the shipped
# LDIF, adds the base entries.
slapd_start() {
	cs_need "$SLAPD_SBIN/slapd" "$SLAPD_SBIN/slapadd" "$SLAPD_SBIN/slappasswd" \
	    ldapsearch ldapmodify openssl od
	d=$T/slapd
	mkdir -p "$d/config" "$d/db"
	chmod 700 "$d" "$d/config" "$d/db"
	SLAPD_ADMIN_PW_FILE=$d/admin.pass
	SLAPD_SVC_PW_FILE=$d/certsync.pass
	(umask 077
	 printf '%s' "$(openssl rand -hex 12)" > "$SLAPD_ADMIN_PW_FILE"
	 printf '%s' "$(openssl rand -hex 12)" > "$SLAPD_SVC_PW_FILE")
	chmod 600 "$SLAPD_ADMIN_PW_FILE" "$SLAPD_SVC_PW_FILE"
	SLAPD_LDAPI=ldapi://$(_slapd_urlenc "$d/ldapi")
	[ -z "$SLAPD_LDAPS" ] || SLAPD_TLS=1
	if [ -n "$SLAPD_TLS" ]; then
		_slapd_tls_files || return 1
	fi
	_slapd_config
	_slapd_tool "$SLAPD_SBIN/slapadd" -n0 -F "$d/config" \
	    -l "$d/generated.ldif" >"$d/slapadd.log" 2>&1 || {
		echo "slapadd of the test cn=config failed:" >&2
		cat "$d/slapadd.log" >&2
		return 1
	}

	cs_on_exit slapd_stop
	tries=0
	while :; do
		tries=$((tries + 1))
		SLAPD_PORT=$(_slapd_random_port)
		SLAPD_URI=ldap://127.0.0.1:$SLAPD_PORT
		if [ -n "$SLAPD_LDAPS" ]; then
			SLAPD_LDAPS_PORT=$(_slapd_random_port)
			[ "$SLAPD_LDAPS_PORT" -ne "$SLAPD_PORT" ] || continue
			SLAPD_LDAPS_URI=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT
		fi
		l_rc=0; _slapd_launch || l_rc=$?
		[ $l_rc -eq 0 ] && break
		[ $l_rc -eq 2 ] || return 1
		[ $tries -lt 20 ] && continue
		echo "slapd_start: no free port in 20 tries; slapd's last log:" >&2
		sed 's/^/    /' "$d/slapd.log" >&2
		return 1
	done
	export SLAPD_URI SLAPD_PORT SLAPD_BASE SLAPD_PEOPLE SLAPD_ADMIN_DN \
	    SLAPD_ADMIN_PW_FILE SLAPD_SVC_DN SLAPD_SVC_PW_FILE SLAPD_LDAPI \
	    SLAPD_TLS_CA SLAPD_LDAPS_URI SLAPD_LDAPS_PORT

	# The shipped configuration, as an administrator applies it.
	for f in syncprov.ldif indexes.ldif acl.ldif; do
		_slapd_ldif "$f" | ldap_config_modify >"$d/apply.log" 2>&1 || {
			echo "applying schema/openldap/$f failed:" >&2
			cat "$d/apply.log" >&2
			return 1
		}
	done
	# The base entries, then the shipped service account with its password.
	svc_hash=$(_slapd_tool "$SLAPD_SBIN/slappasswd" -T "$SLAPD_SVC_PW_FILE")
	{
		cat <<EOF
dn: $SLAPD_BASE
changetype: add
objectClass: dcObject
objectClass: organization
dc: example
o: Example Test

dn: $SLAPD_PEOPLE
changetype: add
objectClass: organizationalUnit
ou: people

EOF
		_slapd_ldif service-account.ldif |
		    sed "s|^userPassword: .*|userPassword: $svc_hash|"
	} | ldap_admin_modify >"$d/apply.log" 2>&1 || {
		echo "adding the base entries failed:" >&2
		cat "$d/apply.log" >&2
		return 1
	}
}

# slapd_stop: stops slapd (SIGTERM, then SIGKILL after 10 s) and reaps it.
slapd_stop() {
	[ -n "${SLAPD_PID:-}" ] || return 0
	kill -TERM "$SLAPD_PID" 2>/dev/null || :
	i=0
	while [ $i -lt 100 ] && ! _slapd_gone "$SLAPD_PID"; do
		sleep 0.1
		i=$((i + 1))
	done
	_slapd_gone "$SLAPD_PID" || kill -KILL "$SLAPD_PID" 2>/dev/null || :
	wait "$SLAPD_PID" 2>/dev/null || :
	SLAPD_PID=
}

# slapd_kill: SIGKILL, as a crash; no restart.
slapd_kill() {
	[ -n "${SLAPD_PID:-}" ] || return 0
	kill -KILL "$SLAPD_PID" 2>/dev/null || :
	wait "$SLAPD_PID" 2>/dev/null || :
	SLAPD_PID=
}

# slapd_restart: stops slapd if it runs, starts it again on the same port(s)
# with the same configuration and data.
slapd_restart() {
	[ -n "$SLAPD_PORT" ] || { echo "slapd_restart: slapd_start first" >&2; return 1; }
	slapd_stop
	_slapd_launch || {
		echo "slapd_restart: could not start again on port $SLAPD_PORT" >&2
		return 1
	}
}

# ldap_admin_modify [OPTION...]: applies the LDIF on stdin as the directory
# admin; options (such as -c) go to ldapmodify.
# shellcheck disable=SC2120
ldap_admin_modify() {
	_slapd_tool ldapmodify -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" \
	    -y "$SLAPD_ADMIN_PW_FILE" "$@"
}

# ldap_config_modify [OPTION...]: applies the LDIF on stdin to cn=config
# (SASL EXTERNAL over the ldapi socket, as the cn=config administrator).
# shellcheck disable=SC2120
ldap_config_modify() {
	_slapd_tool ldapmodify -Q -Y EXTERNAL -H "$SLAPD_LDAPI" "$@"
}

# ldap_add_user UID MAIL "DISPLAY NAME" [GIVEN SN]: an inetOrgPerson
# uid=UID,ou=people.  cn is the display name; sn defaults to its last word.
ldap_add_user() {
	u_uid=$1 u_mail=$2 u_name=$3 u_given=${4:-} u_sn=${5:-}
	[ -n "$u_sn" ] || u_sn=${u_name##* }
	{
		printf 'dn: uid=%s,%s\nchangetype: add\n' "$u_uid" "$SLAPD_PEOPLE"
		printf 'objectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n' \
		    "$u_uid" "$u_name" "$u_sn"
		printf 'displayName: %s\nmail: %s\n' "$u_name" "$u_mail"
		[ -z "$u_given" ] || printf 'givenName: %s\n' "$u_given"
	} | ldap_admin_modify
}

# ldap_get_attr DN ATTR...: the entry's ATTR lines as ldapsearch -LLL prints
# them (unwrapped; binary values base64 after "::"), read as the admin.
# Fails when the entry does not exist.
ldap_get_attr() {
	g_dn=$1; shift
	_slapd_tool ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" \
	    -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" -b "$g_dn" -s base \
	    '(objectClass=*)' "$@" > "$T/slapd/get.out" || return
	sed -e '/^dn::\{0,1\} /d' -e '/^$/d' "$T/slapd/get.out"
}

# ldap_svc_search ARGS...: ldapsearch (unwrapped LDIF) bound as certsync's
# service account; pass -b, the filter, attributes, -E sync=ro and so on.
ldap_svc_search() {
	_slapd_tool ldapsearch -o ldif-wrap=no -x -H "$SLAPD_URI" \
	    -D "$SLAPD_SVC_DN" -y "$SLAPD_SVC_PW_FILE" "$@"
}
