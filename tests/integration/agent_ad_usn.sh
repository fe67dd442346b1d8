#!/bin/sh
# agent_ad_usn.sh - certsyncd with source = usn (uSNChanged rounds with the
# show-deleted control, for an account without the replication right)
# against a real Samba AD DC: enrollment and an address change.
. "${CS_SRCDIR:?}/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/samba.sh"
CS_KEY_TYPE=ec:P-256
cs_setup
samba_start
samba_agent_conf "source = usn" "poll_interval = 5"
ad_add_user erin erin@certsync.test >/dev/null
cs_agent_start
has() { ad_certs_of "CN=erin,$SAMBA_USERS" | grep -q "email:$1"; }
check "usn: enrolled" cs_wait_for 60 has erin@certsync.test
printf 'dn: CN=erin,%s\nchangetype: modify\nreplace: mail\nmail: erin2@certsync.test\n-\nreplace: proxyAddresses\nproxyAddresses: SMTP:erin2@certsync.test\n' "$SAMBA_USERS" | ad_modify >/dev/null
check "usn: reissued" cs_wait_for 60 has erin2@certsync.test
cs_agent_stop
check "usn rounds logged" grep -q "usn rounds" "$T/agent.log"
cs_done
