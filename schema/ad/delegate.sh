#!/bin/sh
# schema/ad/delegate.sh - gives certsync's service account, in an Active
# Directory domain served by Samba (4.x), the rights certsync needs: write
# userCertificate and userSMIMECertificate of the users under a base, and
# optionally "Replicating Directory Changes" for DirSync.  The same steps for
# Windows domain controllers (dsacls) are in README.md.
#
# Owns: the service account (created if missing) and the access control
# entries it adds for it: four on BASE (Write Property on each attribute,
# inherited by the user objects and the inetOrgPerson objects below it) and,
# with -r, one on the domain's root.
# Never: removes or changes an existing access control entry, grants the
# account anything on objects of other classes or outside BASE, puts a
# password on a command line, or writes to the domain without -H naming it.
#
# Usage: delegate.sh -H URL [-U ADMIN | -k] [-s SMB.CONF] [-p PASSWORD_FILE]
#                    [-c CONTAINER] [-r] BASE ACCOUNT
#   BASE       DN of the OU or container that holds the users, e.g.
#              "OU=People,DC=corp,DC=example" or "CN=Users,DC=corp,DC=example".
#   ACCOUNT    the service account's sAMAccountName, e.g. certsync.
#   -H URL     the domain controller: ldap://dc1.corp.example (Samba's tools
#              sign and seal the connection), or, as root on the DC itself,
#              /var/lib/samba/private/sam.ldb.
#   -U ADMIN   a domain admin, CORP\Administrator or Administrator@CORP.EXAMPLE.
#              Its password comes from the file named by the environment
#              variable PASSWD_FILE (Samba's tools read it), or is asked once.
#   -k         use the Kerberos ticket of whoever ran kinit, instead of -U.
#   -s FILE    the smb.conf Samba's tools read (default: their built-in one).
#   -p FILE    set the account's password to the first line of FILE (for a
#              new or an existing account).  Without it, a new account gets
#              a long random password nobody knows: export a keytab
#              (samba-tool domain exportkeytab) for certsync's GSSAPI bind,
#              or set one later with -p.
#   -c DN      where to create a missing account (default CN=Users,<domain>).
#   -r         also grant "Replicating Directory Changes" on the domain's root
#              (what a DirSync search needs unless it sets the object-security
#              flag).
#
# Idempotent: a second run adds nothing that is already there.  Exit 0 when
# every right is in place, 64 on a usage error, 1 on any other error.
set -eu

prog=${0##*/}
url="" user="" krb=0 conf="" pwfile="" container="" repl=0

usage() {
	sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "$0" >&2
	exit 64
}
die() { echo "$prog: $*" >&2; exit 1; }

while getopts H:U:ks:p:c:rh opt; do
	case $opt in
	H) url=$OPTARG ;;
	U) user=$OPTARG ;;
	k) krb=1 ;;
	s) conf=$OPTARG ;;
	p) pwfile=$OPTARG ;;
	c) container=$OPTARG ;;
	r) repl=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
base=$1 account=$2
[ -n "$url" ] || { echo "$prog: -H URL is required" >&2; usage; }
[ -n "$user" ] && [ $krb -eq 1 ] && { echo "$prog: -U and -k exclude each other" >&2; usage; }
# A sAMAccountName that needs no escaping in a filter or a DN.
case $account in
'' | *[!A-Za-z0-9._-]*) die "ACCOUNT must be letters, digits, '.', '_' or '-': $account" ;;
esac
if [ -n "$pwfile" ] && { [ ! -r "$pwfile" ] || [ ! -s "$pwfile" ]; }; then
	die "cannot read the password file $pwfile, or it is empty"
fi
for tool in ldbsearch ldbadd ldbmodify samba-tool iconv base64 od; do
	command -v "$tool" >/dev/null 2>&1 ||
	    die "$tool is not installed (Debian: samba-common-bin, ldb-tools)"
done

scratch=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/delegate.XXXXXX")
echo_off=0
trap 'rm -rf "$scratch"; [ $echo_off -eq 0 ] || stty echo' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM

# The admin's password, asked once and handed to every tool in a private
# file (PASSWD_FILE), when -U is given without one.
if [ -n "$user" ] && [ -z "${PASSWD_FILE:-}" ] && [ -z "${PASSWD:-}" ]; then
	[ -t 0 ] || die "-U $user: set PASSWD_FILE to a file holding its password"
	printf 'Password for %s: ' "$user" >&2
	stty -echo; echo_off=1
	IFS= read -r admin_pw || :
	stty echo; echo_off=0
	echo >&2
	(umask 077 && printf '%s' "$admin_pw" > "$scratch/admin.pw")
	admin_pw=
	PASSWD_FILE=$scratch/admin.pw
	export PASSWD_FILE
fi

# _samba_tool SUBCOMMAND... : samba-tool against the domain controller with
# the chosen credentials (its options go after the subcommand).
_samba_tool() {
	[ -z "$conf" ] || set -- "$@" -s "$conf"
	[ -z "$user" ] || set -- "$@" -U "$user"
	[ $krb -eq 0 ] || set -- "$@" --use-kerberos=required
	samba-tool "$@" -H "$url"
}
# The ldb tools take the same options, but --configfile for -s.
_ldb() {
	l_tool=$1; shift
	[ -z "$conf" ] || set -- --configfile="$conf" "$@"
	[ -z "$user" ] || set -- -U "$user" "$@"
	[ $krb -eq 0 ] || set -- --use-kerberos=required "$@"
	"$l_tool" -H "$url" "$@"
}

# _value ATTR: the first value of ATTR in the LDIF on stdin (ldb folds long
# lines; unfold them first).
_value() {
	sed -e ':a' -e '$!N' -e 's/\n //' -e 'ta' -e 'P' -e 'D' |
	    sed -n "s/^$1: //p" | sed -n 1p
}

# _search BASE SCOPE FILTER ATTR...: ldbsearch, with its errors on stderr.
_search() {
	s_base=$1 s_scope=$2 s_filter=$3; shift 3
	_ldb ldbsearch -b "$s_base" -s "$s_scope" "$s_filter" "$@" \
	    2>"$scratch/err" || {
		cat "$scratch/err" >&2
		return 1
	}
}

_is_guid() {
	printf '%s\n' "$1" |
	    grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
}

# _schema_guid NAME: the schemaIDGUID of the attribute or class whose
# lDAPDisplayName is NAME, from $scratch/schema (the live schema's entries).
_schema_guid() {
	g=$(awk -v n="$1" '
	    /^$/ { name = ""; guid = "" }
	    /^lDAPDisplayName: / { name = substr($0, 18) }
	    /^schemaIDGUID: / { guid = substr($0, 15) }
	    name == n && guid != "" { print guid; exit }' "$scratch/schema")
	_is_guid "$g" || die "no schemaIDGUID for $1 in $schema_nc (got '$g')"
	echo "$g"
}

# The unicodePwd value that sets the password in the file $1: its first
# line, quoted, in UTF-16LE, base64.
_unicode_pwd() {
	pw=
	IFS= read -r pw < "$1" || :
	printf '"%s"' "$pw" | iconv -f UTF-8 -t UTF-16LE | base64 | tr -d '\n'
	pw=
}

# _dsacl_add OBJECT_DN ACES: adds the ACEs (SDDL) to OBJECT_DN's security
# descriptor unless present, then checks that each one is there.
_dsacl_add() {
	_samba_tool dsacl set --objectdn="$1" \
	    --trusteedn="$account_dn" --sddl="$2" >"$scratch/dsacl" 2>&1 || {
		cat "$scratch/dsacl" >&2
		die "samba-tool dsacl set on $1 failed"
	}
	# samba-tool prints the old descriptor, then "new descriptor for":
	new=$(sed -n '/^new descriptor for/{n;p;}' "$scratch/dsacl" | tr 'A-F' 'a-f')
	printf '%s\n' "$2" | awk '{ n = split($0, a, ")")
	    for (i = 1; i < n; i++) print a[i] ")" }' | while IFS= read -r ace; do
		lower=$(printf '%s' "$ace" | tr 'A-F' 'a-f')
		case $new in
		*"$lower"*) ;;
		*) cat "$scratch/dsacl" >&2; die "$1 does not hold $ace after samba-tool dsacl set" ;;
		esac
	done
}

# --- the domain --------------------------------------------------------------
_search "" base "(objectClass=*)" defaultNamingContext schemaNamingContext \
    > "$scratch/rootdse" || die "cannot read the rootDSE of $url"
domain_dn=$(_value defaultNamingContext < "$scratch/rootdse")
schema_nc=$(_value schemaNamingContext < "$scratch/rootdse")
[ -n "$domain_dn" ] && [ -n "$schema_nc" ] ||
    die "$url: no defaultNamingContext or schemaNamingContext in its rootDSE"
dns_domain=$(printf '%s\n' "$domain_dn" | sed -e 's/^[Dd][Cc]=//' -e 's/,[Dd][Cc]=/./g')
[ -n "$container" ] || container=CN=Users,$domain_dn
_search "$base" base "(objectClass=*)" dn > "$scratch/base" ||
    die "BASE $base does not exist (or cannot be read)"

_search "$schema_nc" one "(|(lDAPDisplayName=user)(lDAPDisplayName=inetOrgPerson)\
(lDAPDisplayName=userCertificate)(lDAPDisplayName=userSMIMECertificate))" \
    lDAPDisplayName schemaIDGUID > "$scratch/schema" ||
    die "cannot read the schema ($schema_nc)"
g_user=$(_schema_guid user)
g_inetorgperson=$(_schema_guid inetOrgPerson)
g_cert=$(_schema_guid userCertificate)
g_smime=$(_schema_guid userSMIMECertificate)

# --- the service account -----------------------------------------------------
_find_account() {
	_search "$domain_dn" sub \
	    "(&(objectClass=user)(sAMAccountName=$account))" objectSid \
	    > "$scratch/account" || die "cannot search for $account"
	account_dn=$(_value dn < "$scratch/account")
	account_sid=$(_value objectSid < "$scratch/account")
}
_find_account
if [ -z "$account_dn" ]; then
	if [ -z "$pwfile" ]; then
		# Upper, lower, digit and symbol, so that any password policy's
		# complexity rule is met; nobody ever needs to know it.
		(umask 077 && printf 'Cs-%sa1' \
		    "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" > "$scratch/random.pw")
		new_pw=$scratch/random.pw
	else
		new_pw=$pwfile
	fi
	# 66048 = NORMAL_ACCOUNT (512) + DONT_EXPIRE_PASSWORD (65536): a
	# service's password must not expire under it.
	{
		printf 'dn: CN=%s,%s\n' "$account" "$container"
		printf 'objectClass: user\nsAMAccountName: %s\n' "$account"
		printf 'userPrincipalName: %s@%s\n' "$account" "$dns_domain"
		printf 'description: certsync: reads users, publishes their S/MIME certificates\n'
		printf 'userAccountControl: 66048\n'
		printf 'unicodePwd:: %s\n' "$(_unicode_pwd "$new_pw")"
	} > "$scratch/add.ldif"
	_ldb ldbadd "$scratch/add.ldif" >"$scratch/add.out" 2>&1 || {
		cat "$scratch/add.out" >&2
		die "creating CN=$account,$container failed"
	}
	rm -f "$scratch/add.ldif"
	_find_account
	[ -n "$account_dn" ] || die "$account was added but cannot be found"
	echo "$prog: created $account_dn"
elif [ -n "$pwfile" ]; then
	{
		printf 'dn: %s\nchangetype: modify\nreplace: unicodePwd\n' "$account_dn"
		printf 'unicodePwd:: %s\n' "$(_unicode_pwd "$pwfile")"
	} > "$scratch/pw.ldif"
	_ldb ldbmodify "$scratch/pw.ldif" >"$scratch/pw.out" 2>&1 || {
		cat "$scratch/pw.out" >&2
		die "setting the password of $account_dn failed"
	}
	rm -f "$scratch/pw.ldif"
	echo "$prog: set the password of $account_dn"
else
	echo "$prog: $account_dn exists"
fi
printf '%s\n' "$account_sid" | grep -Eq '^S-1-5-21-[0-9-]+$' ||
    die "$account_dn has no domain SID (got '$account_sid')"

# --- the rights ----------------------------------------------------------------
# Write Property (WP) on each attribute, inherited only (CIIO) by objects of
# class user and inetOrgPerson (an inherited object type matches one class,
# not its subclasses; computers are users' subclass and stay out).
aces=
for class in "$g_user" "$g_inetorgperson"; do
	for attr in "$g_cert" "$g_smime"; do
		aces="$aces(OA;CIIO;WP;$attr;$class;$account_sid)"
	done
done
_dsacl_add "$base" "$aces"
echo "$prog: $account may write userCertificate and userSMIMECertificate of the users under $base"

if [ $repl -eq 1 ]; then
	# DS-Replication-Get-Changes, "Replicating Directory Changes".
	_dsacl_add "$domain_dn" "(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;$account_sid)"
	echo "$prog: $account may replicate directory changes of $domain_dn (DirSync)"
	# List Contents and Read Property on Deleted Objects, so that DirSync
	# and uSNChanged rounds see deleted users (Samba checks access there).
	# samba-tool cannot address that container (it needs the show-deleted
	# control), so the descriptor is edited with the ldb tools.
	deleted="CN=Deleted Objects,$domain_dn"
	ace="(A;;LCRP;;;$account_sid)"
	_ldb ldbsearch --controls=show_deleted:1 --controls=sd_flags:1:4 -b "$deleted" \
	    -s base nTSecurityDescriptor > "$scratch/deleted" 2>"$scratch/err" || {
		cat "$scratch/err" >&2; die "cannot read the security descriptor of $deleted"; }
	old=$(sed -n 's/^nTSecurityDescriptor: //p' "$scratch/deleted")
	if [ -z "$old" ]; then
		# Over LDAP the ldb tools get no descriptor of that container.
		echo "$prog: warning: cannot read the security descriptor of $deleted" \
		    "over $url; run this script on the DC with -H .../sam.ldb, or see" \
		    "README.md (dsacls), so that certsync sees deleted users" >&2
		old=SKIP
	fi
	case $(printf '%s' "$old" | tr 'A-F' 'a-f') in
	skip) ;;
	*"$(printf '%s' "$ace" | tr 'A-F' 'a-f')"*) ;;
	*)
		printf 'dn: %s\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: %s%s\n' \
		    "$deleted" "$old" "$ace" |
		    _ldb ldbmodify --controls=show_deleted:1 --controls=sd_flags:1:4 \
		    >"$scratch/err" 2>&1 || {
			cat "$scratch/err" >&2; die "cannot grant $account access to $deleted"; }
		;;
	esac
	[ "$old" = SKIP ] || echo "$prog: $account may list deleted users in $deleted"
fi
