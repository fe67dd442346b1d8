#!/bin/sh
# agent_publish_race.sh - another writer between certsync's read of an entry
# and its write.  On OpenLDAP userSMIMECertificate has no equality rule, so
# certsync replaces it with the values it read (minus its own superseded
# ones) plus its new one; a value someone added in between would be lost.
# The replace asserts (RFC 4528) that entryCSN is still the one read: the
# slapd refuses a stale write, certsync reads again, and the other writer's
# value survives.  The race is made by CERTSYNC_PUBLISH_RACE (a command
# certsyncd runs once between read and write; compiled in with
# --enable-failpoints only).  With [certificates] mode = dual and EC keys:
# our value is signed by the dual key and names the dual certificate as
# the one to encrypt to (smime_check.sh).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
. "$CS_SRCDIR/tests/integration/smime_check.sh"
cs_need ldapsearch ldapmodify openssl base64
CS_KEY_TYPE=ec:P-256
CS_MODE=dual
cs_setup
slapd_start
cs_agent_conf
cat >> "$CONF" <<CONF
[log]
level = info
CONF
ALICE="uid=alice,$SLAPD_PEOPLE"
ldap_add_user alice alice@example.test "Alice Example" Alice Example >/dev/null

# What the other writer adds: an S/MIME capabilities blob of its own.
openssl rand 48 > "$T/theirs.bin"
THEIRS=$(base64 -w0 < "$T/theirs.bin")
printf 'dn: %s\nchangetype: modify\nadd: userSMIMECertificate\nuserSMIMECertificate:< file://%s\n' \
    "$ALICE" "$T/theirs.bin" > "$T/race.ldif"
cat > "$T/race.sh" <<SH
LDAPNOINIT=1 ldapmodify -x -H '$SLAPD_URI' -D '$SLAPD_ADMIN_DN' \\
    -y '$SLAPD_ADMIN_PW_FILE' -f '$T/race.ldif' > '$T/race.out' 2>&1
SH

smime_values() { cs_dir_values "$ALICE" userSMIMECertificate; }
n_smime() { smime_values | grep -c . || :; }
theirs_there() { smime_values | grep -qx "$THEIRS"; }
ours_there() { [ "$(n_smime)" -eq 2 ] && theirs_there; }

CERTSYNC_PUBLISH_RACE="sh $T/race.sh" cs_agent_start
check "alice is enrolled" cs_wait_for 60 sh -c "'$CS_BUILDDIR/certsyncctl' -c '$CONF' list --active | grep -q ' alice@example.test\$'"
check "the other writer wrote between certsync's read and write" \
    cs_wait_for 30 grep -q "modifying entry" "$T/race.out"
check "certsync's stale write was refused, and it read the entry again" \
    cs_wait_for 30 grep -q "publish $ALICE: the entry changed between our read and our write; reading it again" "$T/agent.log"
check "userSMIMECertificate holds their value and ours" cs_wait_for 30 ours_there
check "their value is byte for byte what they wrote" theirs_there
smime_checks "alice, dual" "$(smime_values | grep -vx "$THEIRS")" alice@example.test
cs_agent_stop
check "no error was logged" sh -c "! grep -i 'error' '$T/agent.log'"
cs_done
