# tests/integration/samba.sh - a private Samba AD domain controller for
# integration tests.
#
# Owns: one samba (Debian's samba-ad-dc, "server services = ldap kdc", one
# process) per test, entirely inside $T/samba (databases, smb.conf, a
# throwaway TLS CA and server certificate, krb5.conf, keytab, passwords,
# logs), on a loopback address of its own, 127.1.X.Y, that it adds to lo
# for the test and removes on exit; and, per build directory, a template
# that every test copies (in $SAMBA_TEMPLATE_DIR, by default
# $CS_BUILDDIR/tests/samba-template, which "make clean" removes; made by the
# first test that needs it, remade when samba, this file or delegate.sh
# change): a provisioned domain whose service
# account got its rights from schema/ad/delegate.sh, run as an administrator
# runs it on a DC, so every test that uses this DC uses that recipe's
# result (samba_harness.sh also runs it over LDAP and checks it).
# Never: uses the machine's Samba (/etc/samba, /var/lib/samba, /run/samba,
# its services), DNS, 127.0.0.1 or an address another test holds; never
# puts a password on a command line (the tools get files: -y, PASSWD_FILE);
# never reads ~/.ldaprc.  The OpenLDAP tools here cannot run with
# LDAPNOINIT, which would also drop the LDAPTLS_* variables that name the
# test CA: they read /etc/ldap/ldap.conf, and ad_tool overrides what matters
# (CA, certificate checking, host name canonicalization) from the
# environment, which the library reads last.
#
# Usage, after lib.sh:
#     . "$CS_SRCDIR/tests/integration/samba.sh"
#     cs_setup; samba_start
# samba_start once per test, after cs_setup; then samba_stop, samba_restart
# (same address, data and certificates), samba_kill (SIGKILL), ad_modify,
# ad_add_user, ad_get_attr, ad_guid, ad_search, ad_svc_search, ad_tool,
# samba_agent_conf (certsyncd's [directory] for this DC), ad_certs_of.
# Runs as root only (a loopback address, ports 88, 389, 636).
#
# Sets and exports: SAMBA_IP, SAMBA_URI (ldaps://IP), SAMBA_LDAP_URI
# (ldap://IP, for StartTLS or a sealed GSSAPI bind), SAMBA_BASE, SAMBA_USERS
# (CN=Users,SAMBA_BASE), SAMBA_REALM, SAMBA_ADMIN_DN, SAMBA_ADMIN_PW_FILE,
# SAMBA_SVC_DN, SAMBA_SVC_UPN, SAMBA_SVC_PRINCIPAL (its Kerberos name),
# SAMBA_SVC_PW_FILE, SAMBA_TLS_CA (the CA that issued the DC's certificate),
# SAMBA_KRB5_CONFIG (a krb5.conf for the realm, KDC at SAMBA_IP),
# SAMBA_KEYTAB (the service account's keys), SAMBA_PID.  Password files hold
# the password without a newline.  The service account may write
# userCertificate and userSMIMECertificate of users under SAMBA_USERS and
# has "Replicating Directory Changes" (DirSync).  The DC's machine account
# has the SPN ldap/SAMBA_IP, so a GSSAPI bind to the address works.  Also
# set, not exported: SAMBA_DOMAIN (CERTSYNC), SAMBA_DNS_DOMAIN, SAMBA_HOST
# (dc1), SAMBA_ADMIN_PRINCIPAL, SAMBA_SVC_NAME (certsync), SAMBA_CONF (the
# smb.conf, for Samba's own tools: -s, --configfile).
#
# SAMBA_STRONG_AUTH, when set before samba_start or samba_restart, becomes
# "ldap server require strong auth" (Samba's default, yes, refuses a GSSAPI
# bind over TLS with or without a SASL security layer; allow_sasl_over_tls
# accepts one without a layer, as Windows does).
#
# samba runs in the foreground as a background child of the test shell
# (SAMBA_PID): a test that runs "wait" with no operand waits for it too.
# It ends itself after SAMBA_MAX_RUNTIME seconds (default 1800), in case
# the test shell is killed before its exit trap runs.

SAMBA_REALM=CERTSYNC.TEST
SAMBA_DOMAIN=CERTSYNC
SAMBA_DNS_DOMAIN=certsync.test
SAMBA_HOST=dc1
SAMBA_BASE=DC=certsync,DC=test
SAMBA_USERS=CN=Users,$SAMBA_BASE
SAMBA_ADMIN_DN=CN=Administrator,CN=Users,$SAMBA_BASE
SAMBA_ADMIN_PRINCIPAL=Administrator@$SAMBA_REALM
SAMBA_SVC_NAME=certsync
SAMBA_SVC_DN=CN=$SAMBA_SVC_NAME,CN=Users,$SAMBA_BASE
SAMBA_SVC_UPN=$SAMBA_SVC_NAME@$SAMBA_DNS_DOMAIN
SAMBA_SVC_PRINCIPAL=$SAMBA_SVC_NAME@$SAMBA_REALM
SAMBA_PID=
SAMBA_IP=
SAMBA_URI=
SAMBA_LDAP_URI=
SAMBA_SBIN=/usr/sbin
SAMBA_MAX_RUNTIME=${SAMBA_MAX_RUNTIME:-1800}
SAMBA_TEMPLATE_DIR=${SAMBA_TEMPLATE_DIR:-$CS_BUILDDIR/tests/samba-template}

# ad_tool TOOL ARGS...: an OpenLDAP client tool that trusts the test CA
# only, demands a valid server certificate, does not canonicalize host
# names for SASL, and reads no ~/.ldaprc (HOME is $T/samba/home).
ad_tool() {
	(
		unset LDAPNOINIT LDAPCONF LDAPRC
		HOME=$T/samba/home
		LDAPTLS_CACERT=$SAMBA_TLS_CA
		LDAPTLS_REQCERT=demand
		LDAPSASL_NOCANON=on
		export HOME LDAPTLS_CACERT LDAPTLS_REQCERT LDAPSASL_NOCANON
		exec "$@"
	)
}

# True when process $1 has exited (gone, or a zombie waiting to be reaped).
_samba_gone() {
	[ -e "/proc/$1" ] || return 0
	sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null |
	    grep -q '^[ZX]$'
}

# A random address 127.1.X.Y, Y in 1..254.
_samba_random_ip() {
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' \n')
	echo "127.1.$((n / 256)).$((n % 254 + 1))"
}

# Adds a random 127.1.X.Y/32 to lo and sets SAMBA_IP.  "ip addr add" fails
# when another test holds the address, so the address is this test's alone.
_samba_claim_ip() {
	tries=0
	while [ $tries -lt 20 ]; do
		tries=$((tries + 1))
		ip_try=$(_samba_random_ip)
		if ip addr add "$ip_try/32" dev lo 2>"$T/samba/ip.err"; then
			SAMBA_IP=$ip_try
			return 0
		fi
		grep -q 'File exists' "$T/samba/ip.err" || {
			echo "samba_start: ip addr add $ip_try/32 dev lo failed:" >&2
			cat "$T/samba/ip.err" >&2
			return 1
		}
	done
	echo "samba_start: no free address in 127.1.0.0/16 in 20 tries" >&2
	return 1
}

# Stops samba and gives the address back; registered with cs_on_exit.  The
# data is thrown away, so SIGKILL: no need to wait for a clean shutdown.
_samba_cleanup() {
	samba_kill
	[ -z "${SAMBA_IP:-}" ] || ip addr del "$SAMBA_IP/32" dev lo 2>/dev/null || :
}

# _samba_provision DIR: a new domain in DIR, with a random Administrator
# password in DIR/admin.pass that never expires, and the service account,
# delegated by schema/ad/delegate.sh, with its password in
# DIR/certsync.pass and its keys in DIR/certsync.keytab.
_samba_provision() {
	p=$1
	mkdir -p "$p"
	# Provisioning sets a random password (never on a command line); ours
	# goes in afterwards, with upper, lower, digit and symbol for the
	# complexity rule.
	printf 'Cs-admin-%s' "$(openssl rand -hex 12)" > "$p/admin.pass"
	samba-tool domain provision --realm="$SAMBA_REALM" \
	    --domain="$SAMBA_DOMAIN" --server-role=dc --dns-backend=NONE \
	    --host-name="$SAMBA_HOST" --host-ip=127.1.0.1 --targetdir="$p" \
	    --option="interfaces=127.1.0.1" --option="bind interfaces only=yes" \
	    --option="server services=ldap kdc" >"$p/provision.log" 2>&1 || {
		echo "samba-tool domain provision failed:" >&2
		cat "$p/provision.log" >&2
		return 1
	}
	# Its log holds the random password; it is no use to anyone now.
	sed -i 's/\(Admin password: *\).*/\1(replaced)/' "$p/provision.log"
	{
		printf 'dn: %s\nchangetype: modify\nreplace: unicodePwd\n' "$SAMBA_ADMIN_DN"
		printf 'unicodePwd:: %s\n' "$(printf '"%s"' "$(cat "$p/admin.pass")" |
		    iconv -f UTF-8 -t UTF-16LE | base64 -w0)"
	} > "$p/admin.ldif"
	ldbmodify -H "$p/private/sam.ldb" "$p/admin.ldif" >>"$p/provision.log" 2>&1 &&
	    samba-tool domain passwordsettings set --max-pwd-age=0 \
	    -H "$p/private/sam.ldb" >>"$p/provision.log" 2>&1 || {
		echo "setting the template's Administrator password failed:" >&2
		cat "$p/provision.log" >&2
		return 1
	}
	rm -f "$p/admin.ldif"
	# The shipped recipe, as an administrator runs it on the DC itself (the
	# local database; samba need not run).
	printf 'Cs-svc-%s' "$(openssl rand -hex 12)" > "$p/certsync.pass"
	sh "$CS_SRCDIR/schema/ad/delegate.sh" -H "$p/private/sam.ldb" \
	    -s "$p/etc/smb.conf" -p "$p/certsync.pass" -r "$SAMBA_USERS" \
	    "$SAMBA_SVC_NAME" >"$p/delegate.log" 2>&1 || {
		echo "schema/ad/delegate.sh failed:" >&2
		cat "$p/delegate.log" >&2
		return 1
	}
	samba-tool domain exportkeytab "$p/certsync.keytab" \
	    --principal="$SAMBA_SVC_PRINCIPAL" -s "$p/etc/smb.conf" \
	    >"$p/keytab.log" 2>&1 && [ -s "$p/certsync.keytab" ] || {
		echo "exporting the keytab of $SAMBA_SVC_PRINCIPAL failed:" >&2
		cat "$p/keytab.log" >&2
		return 1
	}
	chmod 600 "$p/admin.pass" "$p/certsync.pass" "$p/certsync.keytab"
	# Its smb.conf names the template's paths (the databases do not: they
	# can be copied anywhere), and no file server runs to use the sysvol.
	rm -rf "${p:?}/etc" "${p:?}/state/sysvol"
	touch "$p/ready"
}

# Sets SAMBA_TEMPLATE to this build directory's provisioned domain, making
# it first if needed.  Tests in parallel take turns (flock): one provisions,
# the others wait for it, at most 180 s.
_samba_template() {
	top=$SAMBA_TEMPLATE_DIR
	# Named after what makes it: samba's version, this file, the recipe.
	key=$(samba -V | tr -c 'A-Za-z0-9.\n' _)-$(cat \
	    "$CS_SRCDIR/tests/integration/samba.sh" \
	    "$CS_SRCDIR/schema/ad/delegate.sh" | cksum | cut -d' ' -f1)
	SAMBA_TEMPLATE=$top/$key
	[ -f "$SAMBA_TEMPLATE/ready" ] && return 0
	mkdir -p "$top"
	(
		flock -w 180 9 || {
			echo "samba_start: waited 180 s for $top/lock" >&2
			exit 1
		}
		[ -f "$SAMBA_TEMPLATE/ready" ] && exit 0
		# Templates of another Samba or harness version are stale.
		for old in "$top"/*; do
			[ "$old" = "$top/lock" ] || rm -rf "$old"
		done
		_samba_provision "$SAMBA_TEMPLATE.new" || exit 1
		mv "$SAMBA_TEMPLATE.new" "$SAMBA_TEMPLATE"
	) 9>"$top/lock"
}

# The throwaway CA and the DC's certificate (SAN: its address and name).
_samba_tls() {
	t=$T/samba/tls
	mkdir -p "$t"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$t/ca.key" -subj "/CN=certsync test AD CA $$" -days 2 \
	    -addext basicConstraints=critical,CA:true \
	    -addext keyUsage=critical,keyCertSign,cRLSign \
	    -out "$t/ca.crt" 2>"$t/openssl.log" &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$t/server.key" -subj "/CN=$SAMBA_HOST.$SAMBA_DNS_DOMAIN" \
	    -out "$t/server.csr" 2>>"$t/openssl.log" &&
	printf '%s\n' "subjectAltName=IP:$SAMBA_IP,DNS:$SAMBA_HOST.$SAMBA_DNS_DOMAIN" \
	    'basicConstraints=critical,CA:false' \
	    'keyUsage=critical,digitalSignature' \
	    'extendedKeyUsage=serverAuth' > "$t/server.ext" &&
	openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" \
	    -CAcreateserial -days 2 -extfile "$t/server.ext" \
	    -out "$t/server.crt" 2>>"$t/openssl.log" || {
		echo "samba_start: making the test certificates failed:" >&2
		cat "$t/openssl.log" >&2
		return 1
	}
	chmod 600 "$t/ca.key" "$t/server.key"
	SAMBA_TLS_CA=$t/ca.crt
}

# Writes $T/samba/etc/smb.conf: the provisioned settings, every path in
# $T/samba, ldap and kdc on SAMBA_IP only, TLS with the test certificate.
_samba_conf() {
	d=$T/samba
	mkdir -p "$d/etc"
	{
		cat <<EOF
[global]
	netbios name = $(echo "$SAMBA_HOST" | tr "[:lower:]" "[:upper:]")
	realm = $SAMBA_REALM
	workgroup = $SAMBA_DOMAIN
	server role = active directory domain controller
	server services = ldap kdc
	interfaces = $SAMBA_IP
	bind interfaces only = yes
	private dir = $d/private
	lock directory = $d
	state directory = $d/state
	cache directory = $d/cache
	binddns dir = $d/bind-dns
	pid directory = $d/run
	ncalrpc dir = $d/ncalrpc
	winbindd socket directory = $d/winbindd
	ntp signd socket directory = $d/ntp_signd
	log file = $d/samba.log
	logging = file
	tls enabled = yes
	tls certfile = $d/tls/server.crt
	tls keyfile = $d/tls/server.key
	tls cafile = $d/tls/ca.crt
EOF
		[ -z "${SAMBA_STRONG_AUTH:-}" ] ||
		    printf '\tldap server require strong auth = %s\n' "$SAMBA_STRONG_AUTH"
	} > "$d/etc/smb.conf"
	SAMBA_CONF=$d/etc/smb.conf
}

# A krb5.conf for the realm alone: the KDC at SAMBA_IP, no DNS.
_samba_krb5_conf() {
	SAMBA_KRB5_CONFIG=$T/samba/krb5.conf
	cat > "$SAMBA_KRB5_CONFIG" <<EOF
[libdefaults]
	default_realm = $SAMBA_REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
	dns_canonicalize_hostname = false
	rdns = false

[realms]
	$SAMBA_REALM = {
		kdc = $SAMBA_IP
	}

[domain_realm]
	$SAMBA_IP = $SAMBA_REALM
	.$SAMBA_DNS_DOMAIN = $SAMBA_REALM
	$SAMBA_DNS_DOMAIN = $SAMBA_REALM
EOF
}

# Starts samba and waits until it answers on SAMBA_IP.  The address is this
# test's own, so an answer comes from this server; the KDC is up by then too
# (the single process starts every service before it serves any).
_samba_launch() {
	d=$T/samba
	rm -f "$d/run/samba.pid"
	echo "--- samba starts $(date '+%F %T')" >> "$d/samba.out"
	"$SAMBA_SBIN/samba" -s "$SAMBA_CONF" -i -M single --no-process-group \
	    --maximum-runtime="$SAMBA_MAX_RUNTIME" </dev/null >>"$d/samba.out" 2>&1 &
	SAMBA_PID=$!
	i=0
	while [ $i -lt 300 ]; do
		LDAPNOINIT=1 ldapsearch -x -H "$SAMBA_LDAP_URI" -b "" -s base \
		    >/dev/null 2>&1 && return 0
		_samba_gone "$SAMBA_PID" && break
		sleep 0.1
		i=$((i + 1))
	done
	echo "samba did not start on $SAMBA_IP; its output and log:" >&2
	sed 's/^/    /' "$d/samba.out" >&2
	[ ! -f "$d/samba.log" ] || tail -n 40 "$d/samba.log" | sed 's/^/    /' >&2
	samba_kill
	return 1
}

# samba_start: a copy of the template domain in $T/samba, TLS, samba on a
# new address, the SPN for GSSAPI to that address.
samba_start() {
	cs_need samba samba-tool ldbmodify ldbsearch ldbadd ldapsearch \
	    ldapmodify openssl ip flock iconv base64 od
	[ "$(id -u)" -eq 0 ] || {
		echo "FATAL: samba.sh runs as root (a loopback address, ports 88, 389, 636)" >&2
		exit 99
	}
	d=$T/samba
	mkdir -p "$d/home" "$d/run"
	chmod 700 "$d"
	_samba_template || return 1
	cp -a "$SAMBA_TEMPLATE/." "$d/" || {
		echo "samba_start: copying $SAMBA_TEMPLATE failed" >&2
		return 1
	}
	rm -f "$d/ready"
	SAMBA_ADMIN_PW_FILE=$d/admin.pass
	SAMBA_SVC_PW_FILE=$d/certsync.pass
	SAMBA_KEYTAB=$d/certsync.keytab

	cs_on_exit _samba_cleanup
	_samba_claim_ip || return 1
	SAMBA_URI=ldaps://$SAMBA_IP
	SAMBA_LDAP_URI=ldap://$SAMBA_IP
	_samba_tls || return 1
	_samba_conf
	_samba_krb5_conf
	_samba_launch || return 1
	export SAMBA_IP SAMBA_URI SAMBA_LDAP_URI SAMBA_BASE SAMBA_USERS \
	    SAMBA_REALM SAMBA_ADMIN_DN SAMBA_ADMIN_PW_FILE SAMBA_SVC_DN \
	    SAMBA_SVC_UPN SAMBA_SVC_PRINCIPAL SAMBA_SVC_PW_FILE SAMBA_TLS_CA \
	    SAMBA_KRB5_CONFIG SAMBA_KEYTAB SAMBA_PID

	# GSSAPI to the address asks for a ticket for ldap/ADDRESS.
	printf 'dn: CN=%s,OU=Domain Controllers,%s\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: ldap/%s\n' \
	    "$(echo "$SAMBA_HOST" | tr "[:lower:]" "[:upper:]")" "$SAMBA_BASE" "$SAMBA_IP" |
	    ad_modify >"$d/apply.log" 2>&1 || {
		echo "adding the SPN ldap/$SAMBA_IP failed:" >&2
		cat "$d/apply.log" >&2
		return 1
	}
}

# samba_stop: stops samba (SIGTERM, then SIGKILL after 10 s) and reaps it.
samba_stop() {
	[ -n "${SAMBA_PID:-}" ] || return 0
	kill -TERM "$SAMBA_PID" 2>/dev/null || :
	i=0
	while [ $i -lt 100 ] && ! _samba_gone "$SAMBA_PID"; do
		sleep 0.1
		i=$((i + 1))
	done
	_samba_gone "$SAMBA_PID" || kill -KILL "$SAMBA_PID" 2>/dev/null || :
	wait "$SAMBA_PID" 2>/dev/null || :
	SAMBA_PID=
}

# samba_kill: SIGKILL, as a crash; no restart.
samba_kill() {
	[ -n "${SAMBA_PID:-}" ] || return 0
	kill -KILL "$SAMBA_PID" 2>/dev/null || :
	wait "$SAMBA_PID" 2>/dev/null || :
	SAMBA_PID=
}

# samba_restart: stops samba if it runs, starts it again on the same address
# with the same data and certificates (and SAMBA_STRONG_AUTH as it is now).
samba_restart() {
	[ -n "$SAMBA_IP" ] || { echo "samba_restart: samba_start first" >&2; return 1; }
	samba_stop
	_samba_conf
	_samba_launch || {
		echo "samba_restart: could not start again on $SAMBA_IP" >&2
		return 1
	}
	export SAMBA_PID
}

# ad_modify [OPTION...]: applies the LDIF on stdin as the domain's
# Administrator (simple bind over ldaps); options (such as -c) go to
# ldapmodify.
# shellcheck disable=SC2120
ad_modify() {
	ad_tool ldapmodify -x -H "$SAMBA_URI" -D "$SAMBA_ADMIN_DN" \
	    -y "$SAMBA_ADMIN_PW_FILE" "$@"
}

# ad_search ARGS...: ldapsearch (unwrapped LDIF) as the Administrator.
ad_search() {
	ad_tool ldapsearch -o ldif-wrap=no -x -H "$SAMBA_URI" \
	    -D "$SAMBA_ADMIN_DN" -y "$SAMBA_ADMIN_PW_FILE" "$@"
}

# ad_svc_search ARGS...: ldapsearch (unwrapped LDIF) bound as certsync's
# service account (simple bind over ldaps); pass -b, the filter, the
# attributes, -E '!dirSync=0/0/' and so on.
ad_svc_search() {
	ad_tool ldapsearch -o ldif-wrap=no -x -H "$SAMBA_URI" \
	    -D "$SAMBA_SVC_DN" -y "$SAMBA_SVC_PW_FILE" "$@"
}

# ad_add_user NAME MAIL [LINE...]: an enabled user CN=NAME,SAMBA_USERS with
# sAMAccountName NAME, mail MAIL, userAccountControl 544 (enabled, no
# password required) and proxyAddresses SMTP:MAIL.  Each LINE is one more
# LDIF line, such as "givenName: Bob", "proxyAddresses: smtp:b@x.test" or
# "userAccountControl: 546" (disabled); a LINE that sets userAccountControl
# or proxyAddresses replaces that default (so give the SMTP: primary too).
ad_add_user() {
	u_name=$1 u_mail=$2; shift 2
	u_uac=544 u_proxy="SMTP:$u_mail"
	for l in "$@"; do
		case $l in
		[Uu][Ss][Ee][Rr][Aa][Cc][Cc][Oo][Uu][Nn][Tt][Cc][Oo][Nn][Tt][Rr][Oo][Ll]:*) u_uac= ;;
		[Pp][Rr][Oo][Xx][Yy][Aa][Dd][Dd][Rr][Ee][Ss][Ss][Ee][Ss]:*) u_proxy= ;;
		esac
	done
	{
		printf 'dn: CN=%s,%s\nchangetype: add\n' "$u_name" "$SAMBA_USERS"
		printf 'objectClass: user\nsAMAccountName: %s\nmail: %s\n' \
		    "$u_name" "$u_mail"
		[ -z "$u_uac" ] || printf 'userAccountControl: %s\n' "$u_uac"
		[ -z "$u_proxy" ] || printf 'proxyAddresses: %s\n' "$u_proxy"
		for l in "$@"; do printf '%s\n' "$l"; done
	} | ad_modify
}

# ad_get_attr DN ATTR: the values of ATTR of the entry, one a line, read as
# the Administrator: text as it is, values that ldapsearch base64-encodes
# (binary ones such as objectGUID and userCertificate, and text it cannot
# print as it is) in base64.  Nothing when the entry has no ATTR; fails when
# the entry does not exist.
ad_get_attr() {
	ad_search -LLL -b "$1" -s base '(objectClass=*)' "$2" \
	    > "$T/samba/get.out" || return
	awk -v a="$2" '
	    { i = index($0, ":"); if (i == 0) next
	      name = tolower(substr($0, 1, i - 1)); sub(/;.*/, "", name)
	      if (name != tolower(a)) next
	      v = substr($0, i + 1); sub(/^:? /, "", v); print v }' "$T/samba/get.out"
}

# ad_guid_text BASE64: an objectGUID (16 bytes, base64) in Microsoft's
# textual form, the first three fields little-endian:
# A41GvUM4WUuvRyio8sdIPA== is bd468d03-3843-4b59-af47-28a8f2c7483c.
ad_guid_text() {
	printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n' | awk '
	    length($0) == 32 {
		h = $0
		printf "%s%s%s%s-%s%s-%s%s-%s-%s\n", substr(h, 7, 2), substr(h, 5, 2),
		    substr(h, 3, 2), substr(h, 1, 2), substr(h, 11, 2), substr(h, 9, 2),
		    substr(h, 15, 2), substr(h, 13, 2), substr(h, 17, 4), substr(h, 21, 12)
		ok = 1
	    }
	    END { exit !ok }'
}

# ad_guid DN: the entry's objectGUID in Microsoft's textual form.
ad_guid() {
	g_b64=$(ad_get_attr "$1" objectGUID) || return
	[ -n "$g_b64" ] || { echo "ad_guid: $1 has no objectGUID" >&2; return 1; }
	ad_guid_text "$g_b64"
}

# samba_agent_conf [LINE...]: appends to $CONF the [directory] section for
# certsyncd against this DC: flavor = ad, over ldaps as the delegated service
# account, network_timeout 5 and reconnect_max 2; each LINE (such as
# "poll_interval = 10" or "source = usn") goes into the section too.
samba_agent_conf() {
	{
		printf '[directory]\nflavor = ad\nuri = %s\ntls_ca_file = %s\n' \
		    "$SAMBA_URI" "$SAMBA_TLS_CA"
		printf 'base = %s\nbind_dn = %s\nbind_password_file = %s\n' \
		    "$SAMBA_USERS" "$SAMBA_SVC_DN" "$SAMBA_SVC_PW_FILE"
		printf 'network_timeout = 5\nreconnect_max = 2\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >> "$CONF"
}

# ad_certs_of DN: the subject and subjectAltName of each certificate in the
# entry's userCertificate, one line each.
ad_certs_of() {
	ad_get_attr "$1" userCertificate | while read -r c_b64; do
		printf '%s' "$c_b64" | base64 -d | openssl x509 -inform DER -noout \
		    -subject -ext subjectAltName 2>/dev/null | tr '\n' ' '
		echo
	done
}
