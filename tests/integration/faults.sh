# tests/integration/faults.sh - a mass reissue under a fault: what the
# agent_fault_*.sh tests share.
#
# Owns: FAULT_USERS users in the test's slapd, certsyncd running against
# them with short timeouts and backoff ceilings (so a fault of 20 s shows
# several rounds of backoff), the mass reissue (every user's mail moved to
# another domain in one ldapmodify), the agent's log cut into phases, the
# rate of retries during a fault, and the verdict afterwards: nothing lost,
# nothing stale or doubled, no revoke churn.
# Never: waits on a sleep where a condition can be polled (the length of a
# fault itself is the one sleep), or reads the agent's memory: every
# verdict comes from the directory, the store, the files and the CRL.
#
# Usage, after lib.sh and slapd.sh:
#     . "$CS_SRCDIR/tests/integration/faults.sh"
#     fault_setup            # cs_setup, slapd, users, agent; all enrolled
#     fault_reissue two.test # every user's mail to uN@two.test
#     ... the fault ...
#     fault_wait_moved two.test 120
#     check "nothing lost" fault_verdict two.test 1 0
# FAULT_USERS (default 100) may be set before fault_setup; FAULT_CONF is
# appended to the configuration ([daemon] and the like; [directory] keys
# go in FAULT_DIR_CONF); FAULT_BEFORE_START names a function fault_setup
# calls after cs_setup, before anything is written (to put the state's
# directories on a file system of the test's own, say).
cs_need ldapsearch ldapmodify openssl sqlite3 python3 awk

FAULT_USERS=${FAULT_USERS:-100}
FAULT_DIR_CONF=${FAULT_DIR_CONF:-}
FAULT_CONF=${FAULT_CONF:-}
DB=

# The [directory] section: short timeouts, a quick probe, a small backoff
# ceiling; then FAULT_CONF.
_fault_conf() {
	cat >> "$CONF" <<CONF
[directory]
uri = $SLAPD_URI
base = $SLAPD_PEOPLE
bind_dn = $SLAPD_SVC_DN
bind_password_file = $SLAPD_SVC_PW_FILE
network_timeout = 3
reconnect_max = 4
idle_probe = 2
$FAULT_DIR_CONF
[daemon]
retry_max = 8
pid_file = $T/certsyncd.pid
$FAULT_CONF
CONF
}

# _fault_users DOMAIN [add]: the LDIF that adds the users, or moves them.
_fault_users() {
	i=1
	while [ "$i" -le "$FAULT_USERS" ]; do
		if [ "${2:-}" = add ]; then
			printf 'dn: uid=fu%d,%s\nchangetype: add\nobjectClass: inetOrgPerson\n' \
			    "$i" "$SLAPD_PEOPLE"
			printf 'uid: fu%d\ncn: Fault User %d\nsn: User\nmail: fu%d@%s\n\n' \
			    "$i" "$i" "$i" "$1"
		else
			printf 'dn: uid=fu%d,%s\nchangetype: modify\nreplace: mail\nmail: fu%d@%s\n\n' \
			    "$i" "$SLAPD_PEOPLE" "$i" "$1"
		fi
		i=$((i + 1))
	done
}

# The store, read as the admin would (read-only: it works under any lock).
fault_sql() { sqlite3 -readonly "$DB" "$@"; }

# Active certificates for DOMAIN, and jobs queued.
fault_active() {
	fault_sql "SELECT count(*) FROM certificates WHERE status = 'active' AND
	    addresses LIKE '%@$1'"
}
fault_queued() { fault_sql "SELECT count(*) FROM jobs"; }

# True once every user has its 2 active certificates for DOMAIN and no job
# is left.
fault_moved() {
	[ "$(fault_active "$1")" -eq $((2 * FAULT_USERS)) ] && [ "$(fault_queued)" -eq 0 ]
}

# fault_wait_moved DOMAIN SECONDS: waits for fault_moved, says how far it got.
fault_wait_moved() {
	cs_wait_for "$2" fault_moved "$1" && return 0
	echo "after $2 s: $(fault_active "$1") of $((2 * FAULT_USERS)) certificates" \
	    "for $1 are active, $(fault_queued) job(s) queued"
	return 1
}

fault_setup() {
	CS_KEY_TYPE=ec:P-256
	# A test build's knobs: batches of 5 users, each taking at least half
	# a second, so that the fault meets the mass reissue under way (the
	# runner would do 100 users in one batch of well under a second).
	export CERTSYNC_BATCH_MAX=${CERTSYNC_BATCH_MAX:-5}
	export CERTSYNC_BATCH_DELAY_MS=${CERTSYNC_BATCH_DELAY_MS:-500}
	cs_setup
	DB=$T/state/state.db
	[ -z "${FAULT_BEFORE_START:-}" ] || "$FAULT_BEFORE_START"
	slapd_start
	_fault_conf
	_fault_users one.test add | ldap_admin_modify >/dev/null
	: > "$T/agent.log"
	cs_agent_start
	check "all $FAULT_USERS users enrolled" fault_wait_moved one.test 180
	SIGNS0=$(fault_sql "SELECT count(*) FROM audit_text WHERE action = 'sign'")
}

# fault_reissue DOMAIN: the mass reissue, every user at once.
fault_reissue() {
	_fault_users "$1" | ldap_admin_modify >/dev/null
}

# fault_some_moved DOMAIN N: at least N certificates for DOMAIN are active
# (the reissue is under way).
fault_some_moved() { [ "$(fault_active "$1")" -ge "$2" ]; }

# ---- the log, per phase -----------------------------------------------------
LOG_FROM=0
log_mark() { LOG_FROM=$(wc -l < "$T/agent.log"); }
log_now() { tail -n +"$((LOG_FROM + 1))" "$T/agent.log"; }
log_has() { log_now | grep -Eq -- "$1"; }
log_count() { log_now | grep -Ec -- "$1" || :; }
# log_at_most REGEX N: at most N lines since the mark match (they are shown).
log_at_most() {
	n=$(log_count "$1")
	echo "$n line(s) match /$1/, at most $2 wanted:"
	log_now | grep -E -- "$1" | head -n 20 || :
	[ "$n" -le "$2" ]
}

# A storm is the same line over and over: the most repeated line since the
# mark, at most N times.
log_no_storm() {
	top=$(log_now | sort | uniq -c | sort -rn | head -n 1)
	echo "the most repeated line: $top"
	[ "${top:-0}" = "" ] || [ "$(echo "$top" | awk '{ print $1 }')" -le "$1" ]
}

# fault_start / fault_end: the fault's window in the log and in time.
fault_start() { log_mark; FAULT_T0=$(date +%s); }
fault_end() { FAULT_LINES_END=$(wc -l < "$T/agent.log"); FAULT_T1=$(date +%s); }

# fault_rate_at_most REGEX PER_MINUTE: the lines of the fault's window that
# match, per minute of the fault, at most PER_MINUTE.
fault_rate_at_most() {
	n=$(sed -n "$((LOG_FROM + 1)),${FAULT_LINES_END}p" "$T/agent.log" |
	    grep -Ec -- "$1" || :)
	secs=$((FAULT_T1 - FAULT_T0))
	[ "$secs" -gt 0 ] || secs=1
	rate=$((n * 60 / secs))
	echo "$n line(s) matching /$1/ in $secs s of fault: $rate a minute," \
	    "at most $2 wanted"
	[ "$rate" -le "$2" ]
}

status_says() {
	st_rc=0
	ctl status > "$T/status.out" 2>&1 || st_rc=$?
	grep -Eq -- "$1" "$T/status.out" && [ $st_rc -eq 0 ] && return 0
	echo "certsyncctl status (exit $st_rc):"; cat "$T/status.out"
	echo "the agent's last log lines:"; tail -n 5 "$T/agent.log"
	return 1
}

# within SECONDS COMMAND...: cs_wait_for, and on a timeout the command
# once more, so that the check shows what it saw.
within() {
	cs_wait_for "$@" && return 0
	shift
	"$@"
}

agent_alive() { [ -n "${AGENT_PID:-}" ] && ! _slapd_gone "$AGENT_PID"; }

# ---- the verdict ----------------------------------------------------------------
# fault_verdict DOMAIN REISSUES CHURN: after REISSUES mass reissues, the last
# to DOMAIN, with at most CHURN certificates signed beyond what the users
# needed (each one revoked as superseded: signed, not recorded, not right
# any more):
#  - every user has exactly one active signing and one active encryption
#    certificate, for uN@DOMAIN, and the directory's userCertificate;binary
#    values are exactly those two (nothing stale, nothing doubled), with one
#    userSMIMECertificate value;
#  - no pending or superseded certificate, no job, no sign record without
#    its certificate row (every signature accounted for);
#  - every active key in the keystore; every replaced key in the archive and
#    out of the keystore; no key file unaccounted for; no temporary file;
#  - the CRL lists exactly the revoked serials; the revocations are the
#    replaced certificates (2 per user per reissue) plus at most CHURN.
fault_verdict() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" \
	    -D "$SLAPD_ADMIN_DN" -y "$SLAPD_ADMIN_PW_FILE" -b "$SLAPD_PEOPLE" \
	    '(uid=fu*)' entryUUID mail 'userCertificate;binary' \
	    userSMIMECertificate > "$T/dir.ldif" || return 1
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text 2>/dev/null |
	    sed -n 's/^ *Serial Number: *//p' > "$T/crl.serials"
	python3 - "$DB" "$T" "$1" "$2" "$3" "$FAULT_USERS" <<'PY'
import base64, hashlib, os, sqlite3, sys
db, t, domain, reissues, churn, users = sys.argv[1], sys.argv[2], sys.argv[3], \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
bad = []
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
rows = c.execute("SELECT c.uuid, c.serial, kind, status, addresses, fingerprint, "
    "keystore_path, archive_path, length(der), der FROM certificates_text c"
    ).fetchall()
active = {}
for u, s, k, st, a, fp, ks, ar, n, der in rows:
    # A fingerprint not stored is its DER's (schema 8).
    fp = fp or hashlib.sha256(der).hexdigest().upper()
    if st in ("pending", "superseded"):
        bad.append("%s %s %s is still %s" % (u, k, s, st))
    if st == "active":
        active.setdefault(u, []).append((k, a, fp, ks))
        if not ks or not os.path.isfile(ks):
            bad.append("active %s %s: no key file in the keystore" % (k, s))
    if st == "revoked":
        if os.path.exists("%s/keystore/%s-%s.p12" % (t, k, s)):
            bad.append("revoked %s %s: its key is still in the keystore" % (k, s))
        if n and (not ar or not os.path.isfile(ar)):
            bad.append("revoked %s %s: its key is not in the archive" % (k, s))
# The directory against the store, user by user.
entries, e = [], None
for line in open(t + "/dir.ldif"):
    line = line.rstrip("\n")
    if line.startswith("dn:"):
        e = {"certs": [], "smime": 0}; entries.append(e)
    elif line.startswith("entryUUID: "):
        e["uuid"] = line.split(": ", 1)[1]
    elif line.startswith("mail: "):
        e["mail"] = line.split(": ", 1)[1]
    elif line.startswith("userCertificate;binary:: "):
        der = base64.b64decode(line.split(":: ", 1)[1])
        e["certs"].append(hashlib.sha256(der).hexdigest().upper())
    elif line.startswith("userSMIMECertificate"):
        e["smime"] += 1
if len(entries) != users:
    bad.append("%d entries in the directory, %d wanted" % (len(entries), users))
for e in entries:
    mine = active.get(e.get("uuid"), [])
    if sorted(k for k, _, _, _ in mine) != ["encryption", "signing"]:
        bad.append("%s: active %s" % (e.get("mail"), sorted(k for k, _, _, _ in mine)))
    if not e.get("mail", "").endswith("@" + domain) or \
            any(a != e.get("mail") for _, a, _, _ in mine):
        bad.append("%s: certificates for %s" % (e.get("mail"), [a for _, a, _, _ in mine]))
    if sorted(e["certs"]) != sorted(fp for _, _, fp, _ in mine):
        bad.append("%s: the directory holds %d value(s), not its 2 active ones"
            % (e.get("mail"), len(e["certs"])))
    if e["smime"] != 1:
        bad.append("%s: %d userSMIMECertificate values" % (e.get("mail"), e["smime"]))
# Every signature accounted for; the revocations are the replaced ones.
lost = c.execute("SELECT serial FROM audit_text WHERE action = 'sign' AND serial NOT IN "
    "(SELECT serial FROM certificates_text)").fetchall()
if lost:
    bad.append("%d signature(s) without a certificate row: %s" % (len(lost), lost[:3]))
if c.execute("SELECT count(*) FROM jobs").fetchone()[0]:
    bad.append("jobs are left")
revoked = set(r[1] for r in rows if r[3] == "revoked")
listed = set(x.strip() for x in open(t + "/crl.serials"))
if revoked != listed:
    bad.append("the CRL lists %d serial(s), the store revoked %d" % (len(listed), len(revoked)))
extra = len(revoked) - 2 * users * reissues
print("%d certificates, %d revoked (%d beyond the %d replaced), %d signatures"
    % (len(rows), len(revoked), extra, 2 * users * reissues,
       c.execute("SELECT count(*) FROM audit_text WHERE action = 'sign'").fetchone()[0]))
if extra > churn:
    bad.append("revoke churn: %d revoked beyond the replaced ones, at most %d wanted"
        % (extra, churn))
# No key file unaccounted for, no temporary file.
known = set(r[6] for r in rows if r[6]) | set(r[7] for r in rows if r[7])
for d in ("keystore", "archive", "crl", "ca"):
    for f in os.listdir(os.path.join(t, d)) if os.path.isdir(os.path.join(t, d)) else []:
        p = os.path.join(t, d, f)
        if ".tmp." in f:
            bad.append("temporary file left: " + p)
        elif d in ("keystore", "archive") and p not in known:
            bad.append("key file no row records: " + p)
for b in bad[:30]:
    print("  " + b)
if len(bad) > 30:
    print("  ... and %d more" % (len(bad) - 30))
sys.exit(1 if bad else 0)
PY
}
