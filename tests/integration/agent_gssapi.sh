#!/bin/sh
# agent_gssapi.sh - certsyncd against a real Samba AD DC with
# sasl_mech = GSSAPI and a keytab: no bind_dn, no password anywhere in the
# configuration.  Each claim about how the agent bound is read from the
# DC's own audit (auth_json_audit, turned on at run time with smbcontrol):
# an LDAP authorization of CERTSYNC\certsync by Kerberos ("authType":
# "krb5") with the transport protection the URI calls for.
#
# Proves that:
#  - a keytab that group can read (0640) is refused before any bind:
#    "certsyncd --once" exits 69 and says so in one line naming the file and
#    its mode, "certsyncctl plan" likewise; nothing is issued;
#  - a keytab of a principal the KDC does not know, and an empty keytab,
#    fail the bind with one clear line (the KDC's reason and a hint about
#    the keytab), exit 69, no crash, nothing issued;
#  - the running agent over ldaps:// enrolls a user (the certificate is in
#    userCertificate) and the DC saw krb5 over TLS on 636; SIGHUP with a new
#    keytab path reloads, warns that the keytab of the start stays in use
#    until a restart, binds again and publishes a change made after it;
#    SIGTERM exits 0, and the agent logged no error;
#  - "certsyncd --once" over StartTLS on ldap:// with a 0400 keytab enrolls
#    a user, krb5 over TLS on 389; over plain ldap:// (no starttls) it
#    enrolls one and publishes a change with a sealed SASL layer (SEAL on
#    389);
#  - with Samba's default "ldap server require strong auth = yes" the
#    sealed plain ldap:// bind still works, and ldaps:// fails (69) with the
#    hint that names allow_sasl_over_tls;
#  - a keytab left stale by a password change fails (69) with the KDC's
#    "Preauthentication failed";
#  - no password and no key of the keytab (hex or base64) appears in what
#    certsyncd and certsyncctl logged, and the agent wrote no ticket cache
#    to the caller's KRB5CCNAME (its credentials stay in memory).
. "${CS_SRCDIR:?}/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"
cs_need klist smbcontrol iconv base64 basenc

CS_KEY_TYPE=${CS_KEY_TYPE:-ec:P-256}
# Samba 4.17's default refuses a GSSAPI bind inside TLS; Windows and Samba
# 4.20 and later accept one without a SASL layer.  The default is tried last.
SAMBA_STRONG_AUTH=allow_sasl_over_tls
cs_setup
samba_start

# The agent's Kerberos library sees the test realm only, and no keytab or
# ticket cache but what certsync sets itself; a caller's cache it must not
# write to.
KRB5_CONFIG=$SAMBA_KRB5_CONFIG
KRB5CCNAME=FILE:$T/caller.ccache
export KRB5_CONFIG KRB5CCNAME
unset KRB5_CLIENT_KTNAME KRB5_KTNAME

# The DC logs each authorization as JSON (service, authType, account,
# transportProtection, local address) to its output, samba.out.
audit_on() {
	smbcontrol -s "$SAMBA_CONF" samba debug 'auth_json_audit:4' >/dev/null || {
		echo "FATAL: smbcontrol could not turn on the DC's auth audit" >&2
		exit 99
	}
}
audit_on
mark() { wc -l < "$T/samba/samba.out"; }
# krb5_authz SINCE PORT PROTECTION: the DC has authorized certsync since
# line SINCE of its output, and every such authorization was krb5 on PORT
# with PROTECTION (TLS, SEAL).
krb5_authz() {
	tail -n +"$(($1 + 1))" "$T/samba/samba.out" |
	    grep '"type": "Authorization"' | grep '"account": "certsync"' \
	    > "$T/authz.out" || return 1
	cat "$T/authz.out"
	! grep -v -e '"authType": "krb5"' "$T/authz.out" | grep -q . &&
	! grep -v -e "\"localAddress\": \"ipv4:$SAMBA_IP:$2\"" "$T/authz.out" | grep -q . &&
	! grep -v -e "\"transportProtection\": \"$3\"" "$T/authz.out" | grep -q .
}

cp "$CONF" "$T/base.conf"
KT=$SAMBA_KEYTAB
# use_conf URI [LINE...]: the base configuration, [directory] with GSSAPI
# and keytab $KT on URI, then each LINE.
use_conf() {
	cp "$T/base.conf" "$CONF"
	cat >> "$CONF" <<CONF
[log]
level = info
[directory]
flavor = ad
uri = $1
tls_ca_file = $SAMBA_TLS_CA
base = $SAMBA_USERS
sasl_mech = GSSAPI
keytab = $KT
network_timeout = 5
reconnect_max = 2
CONF
	shift
	for l in "$@"; do echo "$l" >> "$CONF"; done
}

# once: "certsyncd --once", its output to stdout and to once.log.
once() {
	o_rc=0
	"$CS_BUILDDIR/certsyncd" -c "$CONF" --once >"$T/once.out" 2>&1 || o_rc=$?
	cat "$T/once.out"; cat "$T/once.out" >> "$T/once.log"
	return $o_rc
}
plan() {
	p_rc=0
	ctl plan >"$T/plan.out" 2>&1 || p_rc=$?
	cat "$T/plan.out"; cat "$T/plan.out" >> "$T/once.log"
	return $p_rc
}
# last_count N REGEX "what": exactly N lines of the previous check's output
# match.
last_count() {
	CS_CHECKS=$((CS_CHECKS + 1))
	n=$(grep -Ec -- "$2" "$T/last.out" || :)
	if [ "$n" -eq "$1" ]; then
		echo "ok   - $3"
	else
		echo "FAIL - $3: $n lines match /$2/, wanted $1"; sed 's/^/       /' "$T/last.out"
		CS_FAILS=$((CS_FAILS + 1))
	fi
}

has_cert_for() { ad_certs_of "$1" | grep -q "email:$2\\b"; }
nothing_issued() {
	[ -z "$(ctl list --active | sed 1d)" ] &&
	    [ -z "$(ad_get_attr "CN=alice,$SAMBA_USERS" userCertificate)" ]
}
subject_has() { ad_certs_of "$1" | grep -q "$2"; }
log_has() { grep -q -- "$1" "$T/agent.log"; }
user() { ad_add_user "$1" "$1@certsync.test" "displayName: $1 Test" >/dev/null; }

user alice

# ---- refused keytabs: nothing binds, nothing is issued ----------------------
echo "# a keytab group can read"
cp "$SAMBA_KEYTAB" "$T/group.keytab"
chmod 640 "$T/group.keytab"
KT=$T/group.keytab
use_conf "$SAMBA_URI"
check_exit 69 "certsyncd --once refuses a 0640 keytab" once
last_count 1 'keytab' "one line is about the keytab"
last_says "keytab $T/group.keytab: mode 0640 lets group or others access a secret; refusing it \\(chmod 600" \
    "it names the file, its mode and the fix"
last_count 1 'warning|error' "and it is the only complaint"
last_says ': stopped$' "the agent stopped in order (no crash)"
check_exit 69 "certsyncctl plan refuses it too" plan
last_says "error: .*keytab $T/group.keytab: mode 0640" "and says why"
check "nothing was issued or published" nothing_issued

echo "# a keytab of a principal the KDC does not know"
# The service account's keytab with its name changed (same length, so the
# file stays well formed): nosuchsv@CERTSYNC.TEST.
LC_ALL=C sed 's/certsync/nosuchsv/g' "$SAMBA_KEYTAB" > "$T/unknown.keytab"
check "the keytab names nosuchsv@CERTSYNC.TEST only" sh -c \
    "klist -k '$T/unknown.keytab' | grep -q 'nosuchsv@CERTSYNC.TEST' &&
     ! klist -k '$T/unknown.keytab' | grep -q 'certsync@'"
KT=$T/unknown.keytab
use_conf "$SAMBA_URI"
check_exit 69 "certsyncd --once fails with an unknown principal" once
last_count 1 'warning|error' "one line says why"
last_says "cannot complete the pass: GSSAPI bind failed: .*nosuchsv@CERTSYNC.TEST.* not found in Kerberos database.*; is \\[directory\\] keytab readable and its principal known to the KDC\\?" \
    "it names the principal, the KDC's reason and what to check"
last_says ': stopped$' "the agent stopped in order (no crash)"

echo "# an empty keytab"
: > "$T/empty.keytab"
KT=$T/empty.keytab
use_conf "$SAMBA_URI"
check_exit 69 "certsyncd --once fails with an empty keytab" once
last_count 1 'warning|error' "one line says why"
last_says "cannot complete the pass: GSSAPI bind failed: .*keytab" "a GSSAPI failure that points at the keytab"
last_says ': stopped$' "the agent stopped in order (no crash)"
check "still nothing was issued or published" nothing_issued

# ---- the running agent over ldaps ---------------------------------------------
echo "# the agent over ldaps://, then SIGHUP"
user bob
KT=$SAMBA_KEYTAB
M=$(mark)
use_conf "$SAMBA_URI"
check "the configuration has no password and no bind_dn" \
    sh -c "! grep -Eq '^(bind_dn|bind_password_file)' '$CONF'"
cs_agent_start
check "the agent connects over ldaps:// and runs DirSync rounds" \
    cs_wait_for 20 log_has "directory $SAMBA_URI: connected to .*dirsync rounds, started by change notification"
check "it logs who it bound as, and that TLS protects the connection" \
    log_has "directory $SAMBA_URI: bound with GSSAPI as $SAMBA_SVC_PRINCIPAL, inside TLS (no SASL layer)"
check "alice is enrolled: her certificate is in userCertificate" \
    cs_wait_for 30 has_cert_for "CN=alice,$SAMBA_USERS" alice@certsync.test
check "bob too" cs_wait_for 30 has_cert_for "CN=bob,$SAMBA_USERS" bob@certsync.test
check "the DC authorized certsync by Kerberos, over TLS, on 636" \
    cs_wait_for 5 krb5_authz "$M" 636 TLS

cp "$SAMBA_KEYTAB" "$T/copy.keytab"
KT=$T/copy.keytab
use_conf "$SAMBA_URI"
KT=$SAMBA_KEYTAB
kill -HUP "$AGENT_PID"
check "SIGHUP reloads the configuration" \
    cs_wait_for 20 log_has "$CONF: configuration reloaded"
check "it warns that the keytab of the start stays in use until a restart" \
    cs_wait_for 20 log_has "keytab changed to $T/copy.keytab since the start; still using $SAMBA_KEYTAB until a restart"
check "and binds again after the reload" \
    cs_wait_for 20 sh -c "[ \$(grep -c 'connected to .*dirsync rounds' '$T/agent.log') -ge 2 ]"
printf 'dn: CN=alice,%s\nchangetype: modify\nreplace: displayName\ndisplayName: Alice Reloaded\n' "$SAMBA_USERS" |
    ad_modify >/dev/null
check "after the reload a change is seen and published" \
    cs_wait_for 30 subject_has "CN=alice,$SAMBA_USERS" "Alice Reloaded"
check "the agent is still running" kill -0 "$AGENT_PID"
kill "$AGENT_PID"
a_rc=0; wait "$AGENT_PID" || a_rc=$?; AGENT_PID=
check "SIGTERM: exit 0" test "$a_rc" -eq 0
check "the agent logged no error" sh -c "! grep -Ei 'error|failed' '$T/agent.log'"

# ---- StartTLS and a sealed layer, with --once ------------------------------------
echo "# StartTLS on ldap://"
user carol
# A read-only keytab (0400) is as good as 0600.
cp "$SAMBA_KEYTAB" "$T/readonly.keytab"
chmod 400 "$T/readonly.keytab"
KT=$T/readonly.keytab
M=$(mark)
use_conf "$SAMBA_LDAP_URI" "starttls = yes"
KT=$SAMBA_KEYTAB
check_exit 0 "certsyncd --once over StartTLS, keytab mode 0400" once
check "carol is enrolled" has_cert_for "CN=carol,$SAMBA_USERS" carol@certsync.test
check "the DC authorized certsync by Kerberos, over TLS, on 389" \
    cs_wait_for 5 krb5_authz "$M" 389 TLS

echo "# plain ldap://, sealed"
user dave
ad_modify >/dev/null <<LDIF
dn: CN=carol,$SAMBA_USERS
changetype: modify
replace: displayName
displayName: Carol Sealed
LDIF
M=$(mark)
use_conf "$SAMBA_LDAP_URI"
check_exit 0 "certsyncd --once over plain ldap://" once
check "dave is enrolled" has_cert_for "CN=dave,$SAMBA_USERS" dave@certsync.test
check "carol's change is published" subject_has "CN=carol,$SAMBA_USERS" "Carol Sealed"
check "the DC authorized certsync by Kerberos, sealed, on 389" \
    cs_wait_for 5 krb5_authz "$M" 389 SEAL

# ---- Samba's default: strong auth required ----------------------------------------
echo "# ldap server require strong auth = yes (Samba 4.17's default)"
unset SAMBA_STRONG_AUTH
samba_restart
audit_on
user erin
M=$(mark)
check_exit 0 "certsyncd --once over sealed ldap:// still works" once
check "erin is enrolled" has_cert_for "CN=erin,$SAMBA_USERS" erin@certsync.test
check "sealed, by Kerberos" cs_wait_for 5 krb5_authz "$M" 389 SEAL
use_conf "$SAMBA_URI"
check_exit 69 "certsyncd --once over ldaps:// is refused by the DC" once
last_count 1 'warning|error' "one line says why"
last_says 'GSSAPI bind failed: Strong\(er\) authentication required.*allow_sasl_over_tls' \
    "it names the Samba setting to change"
last_says ': stopped$' "the agent stopped in order (no crash)"

# ---- a keytab made stale by a password change --------------------------------------
echo "# a stale keytab"
printf 'Cs-new-%s' "$(openssl rand -hex 12)" > "$T/new.pass"
{
	printf 'dn: %s\nchangetype: modify\nreplace: unicodePwd\n' "$SAMBA_SVC_DN"
	printf 'unicodePwd:: %s\n' "$(printf '"%s"' "$(cat "$T/new.pass")" |
	    iconv -f UTF-8 -t UTF-16LE | base64 -w0)"
} | ad_modify >/dev/null
use_conf "$SAMBA_LDAP_URI"
check_exit 69 "certsyncd --once fails after the account's password changed" once
last_count 1 'warning|error' "one line says why"
last_says 'GSSAPI bind failed: .*Preauthentication failed' "the KDC's reason is in it"
last_says "keytab's keys current" "and the hint to export the keytab again"
last_says ': stopped$' "the agent stopped in order (no crash)"

# ---- no secrets in the logs, no ticket cache on disk --------------------------------
# The keys of the keytab, in hex and in base64, as grep patterns (a file:
# no secret goes on a command line), and every password of the test.
klist -k -K "$SAMBA_KEYTAB" | sed -n 's/.*(0x\([0-9a-fA-F][0-9a-fA-F]*\)).*/\1/p' > "$T/keys.hex"
check "the keytab's keys were read" test -s "$T/keys.hex"
{
	cat "$T/keys.hex"
	while read -r h; do
		printf '%s' "$h" | tr a-f A-F | basenc --base16 -d | base64 -w0
		echo
	done < "$T/keys.hex"
} > "$T/keys.pat"
secrets_absent() {
	bad=0
	! grep -Fqi -f "$T/keys.pat" "$@" || { echo "a key of the keytab appears in the logs"; bad=1; }
	for f in "$SAMBA_ADMIN_PW_FILE" "$SAMBA_SVC_PW_FILE" "$T/new.pass" "$T/archive.pass"; do
		! grep -Fq -f "$f" "$@" || { echo "the password of $f appears in the logs"; bad=1; }
	done
	return $bad
}
check "no password or key in what the agent logged" secrets_absent "$T/agent.log" "$T/once.log"
check "no ticket cache file was written" test ! -e "$T/caller.ccache"
cs_done
