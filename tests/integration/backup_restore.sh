#!/bin/sh
# backup_restore.sh - the README's backup and restore procedure, carried out
# on a running certsyncd against a real slapd.
#
# Proves that:
#  - with the agent running, after a reissue (so an old key is archived):
#    the state store snapshot (sqlite3 .backup) passes integrity_check, and
#    the keystore and archive (tar, keystore before archive), the CA key and
#    certificate, the configuration and the secret files are copied as the
#    README says;
#  - restored on a fresh directory tree, `certsyncctl recover` hands back
#    the old encryption key, and it decrypts mail that was encrypted to the
#    old certificate (openssl cms); the restored store knows every
#    certificate; `certsyncd --once` on the restored tree plans nothing and
#    leaves the directory as it was;
#  - the order rule: a snapshot taken mid-job (the agent stopped right after
#    ISSUED, by a test failpoint, standing in for the instant of the
#    snapshot), followed by the rest of the job (the old key leaves the
#    keystore for the archive) and then the key copies: the snapshot names
#    a keystore file the copy does not have, whose key the later archive
#    copy holds; restored, `certsyncd --once` finishes the job from there
#    (exit 0, one line saying where the key was found) and that key, too,
#    is recovered and decrypts its mail.
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify sqlite3 openssl tar cmp
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
ALICE="uid=alice,$SLAPD_PEOPLE"
ldap_add_user alice alice@example.test "Alice Example" Alice Example

mail_is() { # ADDRESS
	printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$ALICE" "$1" |
	    ldap_admin_modify >/dev/null
}
active_for() { ctl list --active | grep -q " $1\$"; }
# mail_to ADDRESS NAME: a message for ADDRESS's current encryption
# certificate, as a sender would write it: NAME.txt and NAME.p7m.
mail_to() {
	cs_cert_pem encryption "$1" > "$T/$2.pem" &&
	printf 'Subject: %s\n\nsecrets for %s\n' "$2" "$1" > "$T/$2.txt" &&
	openssl cms -encrypt -aes256 -binary -in "$T/$2.txt" -out "$T/$2.p7m" "$T/$2.pem"
}
# opens P12 PASSFILE NAME: the key in P12 decrypts NAME.p7m back to NAME.txt.
opens() {
	openssl pkcs12 -in "$1" -passin "file:$2" -nodes -nocerts -out "$T/$3.key" &&
	openssl cms -decrypt -binary -in "$T/$3.p7m" -inkey "$T/$3.key" -out "$T/$3.out" &&
	cmp "$T/$3.txt" "$T/$3.out"
}
printf 'recovered-%s\n' "$$" > "$T/user.pass"

# ---- the procedure, as README "Backup and restore" gives it ----------------------
# The test's tree is both /etc/certsync and /var/lib/certsync: its
# configuration names every path relative to itself.
# backup_store DIR: 1. the state store first, a consistent snapshot.
backup_store() {
	mkdir -p "$1"
	sqlite3 "$T/state/state.db" ".backup '$T/state/backup.db'" &&
	    mv "$T/state/backup.db" "$1/state.db"
}
# backup_keys DIR: 2. then the keystore, then the archive (in that order:
# tar writes its operands in order).  tar exits 1 when a key left the
# keystore while it read: that key is in the archive part.
backup_keys() {
	rc=0
	tar -C "$T" --warning=no-file-removed -cpf "$1/keys.tar" keystore archive || rc=$?
	[ "$rc" -le 1 ]
}
# backup_etc DIR: 3. the CA key and certificate, the configuration, the
# secret files.
backup_etc() {
	tar -C "$T" -cpf "$1/etc.tar" certsync.conf ca archive.pass
	cp -p "$SLAPD_SVC_PW_FILE" "$1/ldap.pass"
}
# lose NAME: the machine is lost: the agent's files leave their places
# (kept in $T/NAME, for the test only).  The restore then uses the same
# paths, as on a fresh machine: the store records key files by path.
lose() {
	mkdir "$T/$1" &&
	mv "$T/certsync.conf" "$T/ca" "$T/archive.pass" "$T/state" "$T/keystore" \
	    "$T/archive" "$T/crl" "$T/$1/"
}
# restore BACKUP: the three parts back in place.
restore() {
	mkdir -m 0700 "$T/state" &&
	tar -C "$T" -xpf "$1/etc.tar" &&
	tar -C "$T" -xpf "$1/keys.tar" &&
	install -m 0600 "$1/state.db" "$T/state/state.db" &&
	sed -i "s|^bind_password_file = .*|bind_password_file = $1/ldap.pass|" "$CONF"
}

echo "# a running agent: enrollment, mail to alice, a reissue"
cs_agent_start
check "alice is enrolled" cs_wait_for 30 active_for alice@example.test
check "a message is encrypted to her certificate" mail_to alice@example.test first
E1=$(cs_serial encryption alice@example.test)
mail_is alice.smith@example.test
check "her address changes: new certificates" cs_wait_for 30 active_for alice.smith@example.test
check "the old key is archived" cs_wait_for 30 test -f "$T/archive/encryption-$E1.p12"
check "and has left the keystore" cs_wait_for 30 test ! -e "$T/keystore/encryption-$E1.p12"

echo "# backup, while the agent runs"
B=$T/backup
check "the state store snapshot" backup_store "$B"
check "... is whole (integrity_check)" sh -c "sqlite3 '$B/state.db' 'PRAGMA integrity_check' | grep -qx ok"
check "the keystore, then the archive" backup_keys "$B"
check "the CA, the configuration, the secrets" backup_etc "$B"
check "the agent still runs" kill -0 "$AGENT_PID"
cs_agent_stop

echo "# restore on a fresh tree"
ctl list | tail -n +2 | sort > "$T/list.before"
check "the tree is gone" lose gone1
check_fails "... certsyncctl finds nothing" ctl list
check "restored" restore "$B"
check "the archive password and CA key kept mode 0600" sh -c \
    "test \"\$(stat -c %a '$T/archive.pass')\" = 600 && test \"\$(stat -c %a '$T/ca/ca.key')\" = 600"
check "the archived key kept mode 0600" test "$(stat -c %a "$T/archive/encryption-$E1.p12")" = 600
check "the restored store knows every certificate" sh -c \
    "'$CTL' -c '$CONF' list | tail -n +2 | sort | cmp - '$T/list.before'"
check_exit 0 "certsyncctl recover the old key from the restored copy" \
    ctl recover alice@example.test --out "$T/first.p12" --password-file "$T/user.pass"
check "it decrypts the mail sent to the old certificate" opens "$T/first.p12" "$T/user.pass" first
cs_dir_values "$ALICE" userCertificate > "$T/dir.before"
check_exit 0 "certsyncd --once on the restored tree" "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
last_says 'refresh complete: 0 planned' "... plans nothing"
cs_dir_values "$ALICE" userCertificate > "$T/dir.after"
check "... and leaves alice's entry as it was" cmp "$T/dir.before" "$T/dir.after"

echo "# the order rule: a snapshot mid-job, keys copied after the job"
check "a message to alice's current certificate" mail_to alice.smith@example.test second
E2=$(cs_serial encryption alice.smith@example.test)
: > "$T/agent.log"
CERTSYNC_FAILPOINT=after-ISSUED "$CS_BUILDDIR/certsyncd" -c "$CONF" -f >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
cs_on_exit "kill -9 $AGENT_PID 2>/dev/null"
mail_is alice.jones@example.test
check "the agent stops right after ISSUED (the failpoint)" cs_wait_for 30 grep -q 'failpoint after-ISSUED' "$T/agent.log"
wait "$AGENT_PID" 2>/dev/null || :
B2=$T/backup2
check "the state store snapshot, mid-job" backup_store "$B2"
cs_agent_start
check "the job finishes: the key leaves the keystore" cs_wait_for 30 test ! -e "$T/keystore/encryption-$E2.p12"
check "... for the archive" test -f "$T/archive/encryption-$E2.p12"
check "then the keystore and the archive" backup_keys "$B2"
check "the CA, the configuration, the secrets" backup_etc "$B2"
cs_agent_stop
names_keystore() { # the snapshot's row names the keystore file, no archive file
	sqlite3 "$B2/state.db" "SELECT keystore_path, archive_path FROM certificate_files WHERE serial = '$E2'" |
	    tee /dev/stderr | grep -q "keystore/encryption-$E2.p12|\$"
}
check "the snapshot names the key's keystore file, and no archive file" names_keystore
check "... which the keystore copy does not have" sh -c "! tar -tf '$B2/keys.tar' | grep -q 'keystore/encryption-$E2.p12'"
check "... while the archive copy has the key" sh -c "tar -tf '$B2/keys.tar' | grep -q 'archive/encryption-$E2.p12'"
check "the tree is gone" lose gone2
check "restored" restore "$B2"
check_exit 0 "certsyncd --once finishes the job on the restored tree" \
    "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
last_says "the key of encryption certificate $E2 is no longer in .* but in its archive file .*; recorded from there" \
    "... saying where it found the key"
check_exit 0 "certsyncctl recover that key by serial" \
    ctl recover "$E2" --out "$T/second.p12" --password-file "$T/user.pass"
check "it decrypts the mail sent to its certificate" opens "$T/second.p12" "$T/user.pass" second
check_exit 0 "certsyncctl recover the first old key again" \
    ctl recover "$E1" --out "$T/first2.p12" --password-file "$T/user.pass"
check "it still decrypts the first mail" opens "$T/first2.p12" "$T/user.pass" first
cs_done
