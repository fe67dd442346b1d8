# scripts/bench-dir.sh - the directory a benchmark runs against, sourced by
# scripts/bench-mass and scripts/bench-latency (bench-latency-ad): a
# throwaway slapd (tests/integration/slapd.sh) or, with BENCH_DIR=ad, a
# throwaway Samba AD DC on a loopback address of its own
# (tests/integration/samba.sh; as root), and what differs between them:
# users' LDIF, DNs, the certificate attribute, certsyncd's [directory]
# section, and the completion poll of a mass event.
#
# Owns: that one server (stopped by the caller's exit handlers) and the
# files it writes in $T.
# Never: asserts anything (benchmarks measure), or touches another server.
#
# The caller sets T, CS_SRCDIR, CS_BUILDDIR (Samba's template lives in its
# tests/) and cs_on_exit, cs_need, as tests/integration/lib.sh does, then
# calls bench_dir_start [USERS] (USERS sizes slapd's database).

BENCH_DIR=${BENCH_DIR:-slapd}
case $BENCH_DIR in
slapd|ad) ;;
*) echo "bench: BENCH_DIR must be slapd or ad, not '$BENCH_DIR'" >&2; exit 2 ;;
esac

# bench_dir_start [USERS]: starts the server; sets BD_PEOPLE (where users
# go), BD_ID (their naming attribute), BD_CERT_ATTR (the attribute the
# admin's tools write certificates to) and BD_PRODUCT (for the headline).
bench_dir_start() {
	if [ "$BENCH_DIR" = ad ]; then
		. "$CS_SRCDIR/tests/integration/samba.sh"
		samba_start
		BD_PEOPLE=$SAMBA_USERS BD_ID=sAMAccountName BD_CERT_ATTR=userCertificate
		BD_PRODUCT="Samba $(samba -V | sed 's/Version //') AD (DirSync)"
		return
	fi
	. "$CS_SRCDIR/tests/integration/slapd.sh"
	# More than 500 users: slapd's default sizelimit would fail certsyncd's
	# syncrepl refresh ("Size limit exceeded").  A database sized for USERS.
	SLAPD_SVC_UNLIMITED=1
	SLAPD_DB_MAXSIZE=$(( (64 + ${1:-0} / 32) * 1048576 ))
	slapd_start
	BD_PEOPLE=$SLAPD_PEOPLE BD_ID=uid BD_CERT_ATTR='userCertificate;binary'
	BD_PRODUCT="slapd $(/usr/sbin/slapd -VV 2>&1 | sed -n 's/.*slapd \([0-9.]*\).*/\1/p' | head -1)"
}

# bench_dir_conf [LINE...]: certsyncd's [directory] section for the server,
# each LINE added to it.  AD: DirSync rounds, each started by a change
# notification (what bench-latency-ad and bench-mass on AD time).
bench_dir_conf() {
	if [ "$BENCH_DIR" = ad ]; then
		printf '[directory]\nflavor = ad\nsource = dirsync\nuri = %s\n' "$SAMBA_URI"
		printf 'tls_ca_file = %s\nbase = %s\nbind_dn = %s\n' \
		    "$SAMBA_TLS_CA" "$SAMBA_USERS" "$SAMBA_SVC_DN"
		printf 'bind_password_file = %s\n' "$SAMBA_SVC_PW_FILE"
	else
		printf '[directory]\nuri = %s\nbase = %s\nbind_dn = %s\n' \
		    "$SLAPD_URI" "$SLAPD_PEOPLE" "$SLAPD_SVC_DN"
		printf 'bind_password_file = %s\n' "$SLAPD_SVC_PW_FILE"
	fi
	for l in "$@"; do printf '%s\n' "$l"; done
}

# bench_admin_modify: applies the LDIF on stdin as the administrator, in
# one connection.
bench_admin_modify() {
	if [ "$BENCH_DIR" = ad ]; then ad_modify; else ldap_admin_modify; fi
}

# bench_search ARGS...: ldapsearch (unwrapped LDIF, no size limit) as the
# administrator.
bench_search() {
	if [ "$BENCH_DIR" = ad ]; then
		ad_search -z 0 "$@"
	else
		LDAPNOINIT=1 ldapsearch -o ldif-wrap=no -x -H "$SLAPD_URI" -z 0 \
		    -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" "$@"
	fi
}

# bench_dn NAME: the DN of user NAME.
bench_dn() {
	if [ "$BENCH_DIR" = ad ]; then echo "CN=$1,$BD_PEOPLE"; else echo "uid=$1,$BD_PEOPLE"; fi
}

# bench_cpu_ms PID...: the CPU time (user + system, threads and reaped
# children included) of each process, in ms, on one line; 0 for one gone.
bench_cpu_ms() {
	for c_pid in "$@"; do
		awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, "")
		    printf "%d ", ($12 + $13 + $14 + $15) * 1000 / hz }' \
		    "/proc/$c_pid/stat" 2>/dev/null || printf '0 '
	done
	echo
}

# bench_server_pid: the directory server's process.
bench_server_pid() {
	if [ "$BENCH_DIR" = ad ]; then echo "$SAMBA_PID"; else echo "$SLAPD_PID"; fi
}

# bench_users_ldif PREFIX COUNT DOMAIN: adds of users PREFIX1..PREFIXCOUNT
# with mail PREFIXi@DOMAIN (on AD: enabled, no password, proxyAddresses).
bench_users_ldif() {
	awk -v p="$1" -v n="$2" -v d="$3" -v base="$BD_PEOPLE" -v ad="$BENCH_DIR" 'BEGIN {
		for (i = 1; i <= n; i++) {
			if (ad == "ad")
				printf "dn: CN=%s%d,%s\nchangetype: add\nobjectClass: user\n" \
				    "sAMAccountName: %s%d\nuserAccountControl: 544\n" \
				    "proxyAddresses: SMTP:%s%d@%s\n", p, i, base, p, i, p, i, d
			else
				printf "dn: uid=%s%d,%s\nchangetype: add\nobjectClass: inetOrgPerson\n" \
				    "uid: %s%d\ncn: User %d\n", p, i, base, p, i, i
			printf "sn: User%d\ndisplayName: User %d\nmail: %s%d@%s\n\n", i, i, p, i, d
		}
	}'
}

# bench_rename_ldif PREFIX COUNT DOMAIN: every user's mail (and on AD its
# primary proxyAddresses) moves to DOMAIN.
bench_rename_ldif() {
	awk -v p="$1" -v n="$2" -v d="$3" -v base="$BD_PEOPLE" -v ad="$BENCH_DIR" 'BEGIN {
		for (i = 1; i <= n; i++) {
			if (ad == "ad")
				printf "dn: CN=%s%d,%s\nchangetype: modify\nreplace: mail\nmail: %s%d@%s\n" \
				    "-\nreplace: proxyAddresses\nproxyAddresses: SMTP:%s%d@%s\n\n", \
				    p, i, base, p, i, d, p, i, d
			else
				printf "dn: uid=%s%d,%s\nchangetype: modify\nreplace: mail\nmail: %s%d@%s\n\n", \
				    p, i, base, p, i, d
		}
	}'
}

# bench_certs FILTER: the userCertificate values of the users FILTER finds,
# with their names (BD_ID).
bench_certs() {
	bench_search -LLL -b "$BD_PEOPLE" "$1" "$BD_ID" userCertificate \
	    'userCertificate;binary'
}

# bench_wait_users PREFIX COUNT OLDFILE WHAT: waits (at most 4 h) until each
# of users PREFIX1..PREFIXCOUNT has 2 or more certificates and none of the
# values in OLDFILE (lines "NAME BASE64", as bench_old_values writes; an
# empty file for none).  Cheap polls every 0.2 s read only a sample: up to 8
# users, at first the last and a spread of others, after a full read the
# last 8 of those it found not done (the runner takes jobs oldest first, in
# the order the rename came: the last users are done last).  Each sample is
# checked against its own users' old values only.  When the sample is done,
# one full read of every user decides, and when it says done, the wait
# ends.  A full read of thousands of entries every 0.2 s, or a Python start
# and a read of every old value per poll (~0.1 s of CPU each), would compete
# with the server and certsyncd for the CPU the benchmark measures.  Sets
# BD_POLLS (sample reads), BD_FULL_READS and BD_POLL_CPU_MS (the CPU of the
# poll's own tools: ldapsearch, awk).
bench_wait_users() {
	w_prefix=$1 w_count=$2 w_old=$3 w_what=$4
	awk -v p="$w_prefix" -v n="$w_count" 'BEGIN {
		for (k = 0; k < 8 && k < n; k++) print p (n - k * int(n / 8)) }' > "$T/wait.todo"
	bench_sample_old "$w_old"
	w_tries=72000 BD_POLLS=0 BD_FULL_READS=0 w_cpu0=$(bench_children_cpu_ms)
	while [ $w_tries -gt 0 ]; do
		w_filter=$(awk -v a="$BD_ID" '{ f = f "(" a "=" $1 ")" } END { print "(|" f ")" }' "$T/wait.todo")
		BD_POLLS=$((BD_POLLS + 1))
		w_left=$(bench_certs "$w_filter" 2>/dev/null |
		    awk -f "$T/certs_state.awk" "$T/wait.old" - | grep -v '^#' | head -1)
		if [ -z "$w_left" ]; then
			BD_FULL_READS=$((BD_FULL_READS + 1))
			bench_certs "($BD_ID=$w_prefix*)" |
			    awk -f "$T/certs_state.awk" "$w_old" - > "$T/wait.left" || :
			if [ "$(bench_certs_done "$w_count")" = yes ]; then
				BD_POLL_CPU_MS=$(( $(bench_children_cpu_ms) - w_cpu0 ))
				return 0
			fi
			grep -v '^#' "$T/wait.left" | tail -8 > "$T/wait.todo"
			bench_sample_old "$w_old"
		fi
		w_tries=$((w_tries - 1))
		sleep 0.2
	done
	echo "bench: timed out waiting for $w_what" >&2
	exit 1
}

# bench_sample_old OLDFILE: the old values of the users in $T/wait.todo,
# into $T/wait.old.
bench_sample_old() {
	awk 'FILENAME == ARGV[1] { want[$1]; next } $1 in want' "$T/wait.todo" "$1" \
	    > "$T/wait.old"
}

# bench_children_cpu_ms: the CPU (ms) of this shell's children it has
# waited for (the poll's tools, and what they ran).
bench_children_cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, "")
	    printf "%d\n", ($14 + $15) * 1000 / hz }' "/proc/$$/stat"
}

# bench_old_values PREFIX: the certificates users PREFIX* now hold, a line
# "NAME BASE64" each (bench_wait_users' OLDFILE).
bench_old_values() {
	bench_certs "($BD_ID=$1*)" | awk -v idattr="$(echo "$BD_ID" | tr A-Z a-z):" '
	    function flush() { for (i = 0; i < k; i++) print name, v[i]; k = 0 }
	    tolower($1) ~ /^dn::?$/ { flush(); name = "" }
	    tolower($1) == idattr { name = $2 }
	    tolower($1) ~ /^usercertificate/ && $1 ~ /::$/ { v[k++] = $2 }
	    END { flush() }'
}

# bench_certs_done COUNT: "yes" when the last full read ($T/wait.left: the
# users not done, then a last line "#seen N") saw COUNT users, all done.
bench_certs_done() {
	awk -v n="$1" '/^#seen / { seen = $2; next } { left++ }
	    END { print (seen == n && !left) ? "yes" : "no" }' "$T/wait.left"
}

# certs_state.awk OLDFILE -: reads OLDFILE ("NAME BASE64" lines), then LDIF
# entries (unwrapped); prints the ID (BD_ID) of each entry not done (fewer
# than 2 certificates, or one of OLDFILE's values), then "#seen N", the
# entries read.  Written to $T by bench_dir_tools.
bench_dir_tools() {
	cat > "$T/certs_state.awk" <<AWK
FILENAME == ARGV[1] { old[\$2]; next }
function flush() {
	if (!inentry)
		return
	seen++
	if (certs < 2 || stale)
		print name
}
tolower(\$1) ~ /^dn::?\$/ { flush(); inentry = 1; certs = stale = 0; name = ""; next }
!inentry { next }
tolower(\$1) == "$(echo "$BD_ID" | tr A-Z a-z):" { name = \$2; next }
tolower(\$1) ~ /^usercertificate/ && \$1 ~ /::\$/ { certs++; if (\$2 in old) stale = 1 }
END { flush(); printf "#seen %d\n", seen }
AWK
}
