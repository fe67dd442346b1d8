#!/bin/sh
# agent_parked.sh - a failure retrying cannot mend parks the job; it does
# not retry forever.
#
# Proves that: with the CA certificate expired (the same key, an expired
# certificate, made with the openssl CLI as an admin would), three users'
# address changes each fail once, and are parked: one error line per user
# naming the DN, the reason (the CA has expired) and how it runs again;
# "certsyncctl status" counts them as parked and lists both with the reason;
# the store records one attempt each and no retry time, and past the first
# retry delay there is still no second attempt and no "retried" line; the
# daemon keeps running.  A user deleted while parked has the job end and
# the certificates put on hold (certificateHold) at once.  A change to one
# user's entry releases that job for one more attempt (parked again: the CA
# is still expired).  "certsyncctl
# retry UUID" releases a parked job (and says there is none the second
# time); "retry" with no UUID is a usage error.  With a renewed CA
# certificate and a reload (SIGHUP), both jobs run: the new addresses are
# certified and published, the old certificates revoked, no job is left.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify openssl sqlite3
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
DB="$T/state/state.db"

# ca_cert START END: a certificate for the CA's own key and name, with the
# given validity (openssl ca -selfsign), on stdout.
ca_cert() {
	mkdir -p "$T/ca-make"
	: >"$T/ca-make/index.txt"
	echo 01 >"$T/ca-make/serial"
	cat >"$T/ca-make/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $T/ca-make/index.txt
new_certs_dir = $T/ca-make
serial = $T/ca-make/serial
default_md = sha256
policy = p
x509_extensions = ext
unique_subject = no
preserve = yes
[p]
organizationName = supplied
commonName = supplied
[ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
	openssl req -new -key "$T/ca/ca.key" -subj "/O=Example Test/CN=certsync Test CA" \
	    -out "$T/ca-make/ca.csr" &&
	openssl ca -batch -notext -config "$T/ca-make/ca.cnf" -selfsign \
	    -keyfile "$T/ca/ca.key" -in "$T/ca-make/ca.csr" -startdate "$1" \
	    -enddate "$2" -out "$T/ca-make/ca.pem" 2>"$T/ca-make/log" &&
	cat "$T/ca-make/ca.pem"
}
dn() { echo "uid=$1,$SLAPD_PEOPLE"; }
set_mail() {
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$(dn "$1")" "$2" |
	    ldap_admin_modify >/dev/null
}
active_for() { [ -n "$(cs_serial signing "$1")" ] && [ -n "$(cs_serial encryption "$1")" ]; }
park_lines() { grep -c 'job failed and is parked' "$T/agent.log" || :; }
parked_is() { [ "$(park_lines)" -eq "$1" ]; }

echo "# two users enrolled under a valid CA"
ldap_add_user alice alice@example.test "Alice Example" >/dev/null
ldap_add_user bob bob@example.test "Bob Example" >/dev/null
ldap_add_user carol carol@example.test "Carol Example" >/dev/null
cs_agent_start
check "alice enrolled" cs_wait_for 30 active_for alice@example.test
check "bob enrolled" cs_wait_for 30 active_for bob@example.test
check "carol enrolled" cs_wait_for 30 active_for carol@example.test
cs_agent_stop

echo "# the CA certificate expires; three users' addresses change"
cp "$T/ca/ca.crt" "$T/ca.good"
ca_cert 20200101000000Z 20210101000000Z >"$T/ca.expired"
check "it is expired, and for the same key" sh -c "
    ! openssl x509 -in '$T/ca.expired' -noout -checkend 0 >/dev/null &&
    [ \"\$(openssl x509 -in '$T/ca.expired' -noout -pubkey)\" = \
      \"\$(openssl x509 -in '$T/ca.good' -noout -pubkey)\" ]"
cp "$T/ca.expired" "$T/ca/ca.crt"
: >"$T/agent.log"
cs_agent_start
set_mail alice alice.new@example.test
set_mail bob bob.new@example.test
set_mail carol carol.new@example.test
check "the three jobs fail once and are parked" cs_wait_for 30 parked_is 3
cp "$T/agent.log" "$T/parked.log"
for u in alice bob carol; do
	check "$u: one error line naming the DN, the reason, and what runs it again" \
	    sh -c "[ \"\$(grep -c '^certsyncd: error: $(dn $u) ([^)]*): reissue job failed and is parked: the CA certificate has expired; no certificate can be issued until it is replaced; it runs again when the entry changes, when certsyncd restarts or reloads, or after certsyncctl retry ' '$T/parked.log')\" -eq 1 ]"
done
ctl status >"$T/status"
check "status counts 3 parked jobs" grep -Eq '^ +parked +3$' "$T/status"
for u in alice bob carol; do
	check "status lists $u's parked job with the reason" grep -Eq \
	    "^  $(dn $u) \(.*\): reissue job in KEYS, parked [0-9]+s ago: the CA certificate has expired" \
	    "$T/status"
done
check "the store: one attempt each, parked" test "$(sqlite3 "$DB" \
    "SELECT count(*) FROM jobs WHERE attempts = 1 AND parked_at IS NOT NULL")" -eq 3
# No event marks "a retry did not happen": past the first retry delay (5 s)
# the job is looked at again; it must still stand as it was.
sleep 7
check "7 s later: still one attempt each, no second error line" sh -c "
    [ \"\$(sqlite3 '$DB' 'SELECT sum(attempts) FROM jobs')\" -eq 3 ] &&
    [ \"\$(grep -c 'job failed and is parked' '$T/agent.log')\" -eq 3 ]"
check "nothing was retried" sh -c "! grep -q 'retried in' '$T/agent.log'"
check "the agent still runs" kill -0 "$AGENT_PID"

echo "# a user deleted while parked: the job ends, the certificates are put on hold"
printf 'dn: %s\nchangetype: delete\n' "$(dn carol)" | ldap_admin_modify >/dev/null
carol_held() {
	[ "$(ctl list | awk '$1 == "on-hold" && $NF == "carol@example.test"' | wc -l)" -eq 2 ] &&
	    [ -z "$(cs_serial signing carol@example.test)" ]
}
check "carol's certificates are put on hold" cs_wait_for 30 carol_held
check "... (certificateHold)" sh -c "'$CTL' -c '$CONF' show carol@example.test |
    grep -c '(certificateHold)' | grep -qx 2"
carol_gone() { [ "$(sqlite3 "$DB" 'SELECT count(*) FROM jobs')" -eq 2 ]; }
check "her job is gone; the other two stay parked" cs_wait_for 30 carol_gone

echo "# the entry changes: one more attempt"
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: Alice New\n' \
    "$(dn alice)" | ldap_admin_modify >/dev/null
check "alice's change releases her job, which runs and is parked again" \
    cs_wait_for 30 parked_is 4
check "the log says why it ran again" grep -q \
    "^certsyncd: $(dn alice): its values changed: the parked reissue job runs again$" \
    "$T/agent.log"

echo "# certsyncctl retry"
BOB=$(sed -n "s/^  $(dn bob) (\([^)]*\)).*/\1/p" "$T/status")
check_exit 0 "retry bob's job" ctl retry "$BOB"
last_says '^1 parked job\(s\) released' "it says one job was released"
check_exit 66 "retry it again: nothing is parked for bob" ctl retry "$BOB"
last_says 'no parked job' "it says so"
check_exit 64 "retry without a UUID" ctl retry
check "the release is in the audit trail" sh -c "'$CTL' -c '$CONF' audit | grep -q ' retry .*released by the admin'"

echo "# a renewed CA certificate, and a reload: both jobs run"
ca_cert "$(date -u +%Y%m%d%H%M%SZ)" 20350101000000Z >"$T/ca/ca.crt"
kill -HUP "$AGENT_PID"
check "alice's new address is certified" cs_wait_for 30 active_for alice.new@example.test
check "bob's new address is certified" cs_wait_for 30 active_for bob.new@example.test
no_jobs() { [ "$(sqlite3 "$DB" 'SELECT count(*) FROM jobs')" -eq 0 ]; }
check "no job is left" cs_wait_for 30 no_jobs
check "the old certificates are revoked" test "$(ctl list | awk '$1 == "revoked"' | wc -l)" -eq 4
check "carol's stay on hold" test "$(ctl list | awk '$1 == "on-hold"' | wc -l)" -eq 2
ctl status >"$T/status"
check "status: no failed job" sh -c "sed -n '/^failed jobs/,/^skipped users/p' '$T/status' | grep -qx '  none'"
check "the agent still runs" kill -0 "$AGENT_PID"
cs_done
