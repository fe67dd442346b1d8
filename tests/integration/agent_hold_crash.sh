#!/bin/sh
# agent_hold_crash.sh - certsyncd killed at every step of a hold, of a lift
# and of a hold's final revocation resumes cleanly: nothing lost, the CRL
# right.
#
# Against one slapd and one store, "CERTSYNC_FAILPOINT=FP certsyncd --once"
# must die at exactly FP (exit 137, the failpoint's own log line), and the
# next plain "certsyncd --once" must exit 0 and leave:
#  - a hold (the user's mail removed, so the entry leaves the filter but
#    stays): failpoints after-PUBLISHED (withdrawn, not on hold yet),
#    hold-after-archive (the first key archived, its hold not recorded),
#    hold-one-done (one of two on hold), after-REVOKED, after-DONE: both
#    certificates on-hold, on the CRL as Certificate Hold, none in the
#    entry, both keys in the archive (opening, mode 600) and still in the
#    keystore, no job queued, nothing held by the safety catch;
#  - a lift (the mail restored): lift-one-done (one of two lifted),
#    after-ARCHIVED (both lifted, not published yet), after-PUBLISHED,
#    after-REVOKED, after-DONE: both active again, the same DER values in
#    the entry as before the hold, neither serial on the CRL, no job;
#  - the final revocation of a hold older than hold_days (the test hook
#    CERTSYNC_HOLD_SECONDS=1): after-ISSUED, after-ARCHIVED,
#    publish-before-record, after-PUBLISHED, after-REVOKED, after-DONE: both
#    revoked, on the CRL as Cessation Of Operation with the date of their
#    hold, the keys in the archive and out of the keystore, no job;
#  - every user of an earlier round as that round left it.
# [reconcile] max_revoke = 100 keeps the safety catch out of the way: the
# rounds add up to more departures within the hour than the default allows.
# Needs a build configured with --enable-failpoints (skips, exit 77, else).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapsearch ldapmodify openssl stat cmp
if ! grep -q '^#define CS_FAILPOINTS 1' "$CS_BUILDDIR/config.h" 2>/dev/null; then
	echo "SKIP: $CS_BUILDDIR was not configured with --enable-failpoints"
	exit 77
fi
unset CERTSYNC_FAILPOINT CERTSYNC_HOLD_SECONDS
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cs_agent_conf
cat >> "$CONF" <<CONF
[reconcile]
max_revoke = 100
CONF
: > "$T/agent.log"

# agent [FAILPOINT]: one "certsyncd --once"; HOLD=N sets the test hook.
agent() {
	a_rc=0
	env ${1:+CERTSYNC_FAILPOINT=$1} ${HOLD:+CERTSYNC_HOLD_SECONDS=$HOLD} \
	    "$CS_BUILDDIR/certsyncd" -c "$CONF" --once >"$T/run.out" 2>&1 || a_rc=$?
	{ echo "=== certsyncd --once ${1:+(failpoint $1)}: exit $a_rc"; cat "$T/run.out"; } \
	    >> "$T/agent.log"
	cat "$T/run.out"
	return $a_rc
}
mail_off() {
	printf 'dn: %s\nchangetype: modify\ndelete: mail\n' "$1" | ldap_admin_modify >/dev/null
}
mail_on() {
	printf 'dn: %s\nchangetype: modify\nadd: mail\nmail: %s\n' "$1" "$2" |
	    ldap_admin_modify >/dev/null
}
values() { cs_dir_values "$1" 'userCertificate;binary'; }
no_values() { v=$(values "$1"); [ -z "$v" ] || { echo "the entry shows: $v"; return 1; }; }
serials_of() { ctl list | awk -v a="$1" 'NR > 1 && $NF == a { print $3 }' | sort; }
statuses_are() { # ADDRESS STATUS: every certificate of ADDRESS (2) has STATUS
	ctl list | awk -v a="$1" 'NR > 1 && $NF == a { print $1, $2, $3 }' | tee "$T/st"
	[ "$(wc -l < "$T/st")" -eq 2 ] && [ "$(awk -v s="$2" '$1 != s' "$T/st" | wc -l)" -eq 0 ]
}
crl_entry() { # SERIAL: "REASON|DATE", or "none"
	openssl crl -inform DER -in "$T/crl/ca.crl" -noout -text | awk -v s="$1" '
	    /Serial Number:/ { on = ($3 == s); if (on) found = 1 }
	    on && /Revocation Date:/ { sub(/.*Revocation Date: /, ""); d = $0 }
	    on && /CRL Reason Code:/ { getline; gsub(/^ +/, ""); r = $0 }
	    END { print found ? r "|" d : "none" }'
}
crl_reasons() { # SERIALS... REASON: each listed with REASON ("none": not listed)
	want=$(eval echo "\${$#}")
	bad=0
	for c_s in "$@"; do
		[ "$c_s" = "$want" ] && break
		got=$(crl_entry "$c_s")
		echo "$c_s: ${got%%|*}"
		if [ "$want" = none ]; then [ "$got" = none ] || bad=1
		else [ "${got%%|*}" = "$want" ] || bad=1; fi
	done
	return $bad
}
queued_zero() { ctl status | grep -Eq '^ +queued +0$'; }
nothing_held() { ctl status | grep -Eq '^held: +none$'; }
p12_opens() { # FILE
	[ "$(stat -c %a "$1")" = 600 ] &&
	    openssl pkcs12 -in "$1" -passin "file:$T/archive.pass" -nodes -noout
}
keys_where() { # SERIALS... (archive|both|archive-only)
	want=$(eval echo "\${$#}")
	bad=0
	for k_s in "$@"; do
		[ "$k_s" = "$want" ] && break
		kind=$(ctl show "$k_s" | awk '/^Kind:/ { print $2 }')
		p12_opens "$T/archive/$kind-$k_s.p12" || { echo "$k_s: no archive copy"; bad=1; }
		if [ "$want" = both ]; then
			test -f "$T/keystore/$kind-$k_s.p12" || { echo "$k_s: not in the keystore"; bad=1; }
		else
			test ! -e "$T/keystore/$kind-$k_s.p12" || { echo "$k_s: still in the keystore"; bad=1; }
		fi
	done
	return $bad
}
crashes_at() { # FP: exit 137, the failpoint's line
	check_exit 137 "[$1] certsyncd --once dies at the failpoint" agent "$1"
	last_says "failpoint $1: exiting as if killed" "[$1] it was the failpoint that stopped it"
}
# Users of earlier rounds: "ADDRESS STATUS" each; still so.
: > "$T/others"
others_intact() {
	o_bad=0
	while read -r o_a o_st; do
		statuses_are "$o_a" "$o_st" >/dev/null || { echo "$o_a: not $o_st"; o_bad=1; }
	done < "$T/others"
	return $o_bad
}

round=0
new_user() { # enrolls a new user; sets WHO DN ADDR SERIALS VALUES
	round=$((round + 1))
	WHO=hc$round
	DN="uid=$WHO,$SLAPD_PEOPLE"
	ADDR=$WHO@example.test
	ldap_add_user "$WHO" "$ADDR" "Hold Crash $round" >/dev/null
	check_exit 0 "[$WHO] enrolled by certsyncd --once" agent
	SERIALS=$(serials_of "$ADDR")
	values "$DN" > "$T/$WHO.values"
	check "[$WHO] published" test -s "$T/$WHO.values"
}

echo "# a hold, killed at each step"
HOLD=
for fp in after-PUBLISHED hold-after-archive hold-one-done after-REVOKED after-DONE; do
	new_user
	mail_off "$DN"
	crashes_at "$fp"
	check_exit 0 "[$fp] the next certsyncd --once finishes" agent
	check "[$fp] both certificates on-hold" statuses_are "$ADDR" on-hold
	# shellcheck disable=SC2086
	check "[$fp] both on the CRL as Certificate Hold" crl_reasons $SERIALS "Certificate Hold"
	check "[$fp] none left in the entry" no_values "$DN"
	# shellcheck disable=SC2086
	check "[$fp] both keys archived and still in the keystore" keys_where $SERIALS both
	check "[$fp] no job left" queued_zero
	check "[$fp] nothing held by the safety catch" nothing_held
	check "[$fp] the earlier rounds' users are as they were" others_intact
	echo "$WHO $DN $ADDR" >> "$T/held.users"
	echo "$ADDR on-hold" >> "$T/others"
done

echo "# a lift, killed at each step"
for fp in lift-one-done after-ARCHIVED after-PUBLISHED after-REVOKED after-DONE; do
	read -r WHO DN ADDR <<EOF
$(head -n 1 "$T/held.users")
EOF
	sed -i 1d "$T/held.users"
	grep -v "^$ADDR " "$T/others" > "$T/others.new"; mv "$T/others.new" "$T/others"
	SERIALS=$(serials_of "$ADDR")
	mail_on "$DN" "$ADDR"
	crashes_at "$fp"
	check_exit 0 "[$fp] the next certsyncd --once finishes" agent
	check "[$fp] both certificates active again" statuses_are "$ADDR" active
	values "$DN" > "$T/$WHO.now"
	check "[$fp] the same DER values in the entry as before the hold" \
	    cmp "$T/$WHO.values" "$T/$WHO.now"
	# shellcheck disable=SC2086
	check "[$fp] neither serial on the CRL" crl_reasons $SERIALS none
	check "[$fp] no job left" queued_zero
	check "[$fp] the earlier rounds' users are as they were" others_intact
	echo "$ADDR active" >> "$T/others"
done
# Every held user is back: the next rounds' hook finds only their own
# hold due.
check "no certificate is on hold" sh -c "! '$CTL' -c '$CONF' list | grep -q '^on-hold '"

echo "# a hold's final revocation, killed at each step"
hold_aged() { [ "$(date +%s)" -ge $((HELD_AT + 2)) ]; }
for fp in after-ISSUED after-ARCHIVED publish-before-record after-PUBLISHED \
    after-REVOKED after-DONE; do
	new_user
	mail_off "$DN"
	check_exit 0 "[$fp] put on hold" agent
	check "[$fp] ... on-hold" statuses_are "$ADDR" on-hold
	: > "$T/dates"
	for s in $SERIALS; do echo "$s $(crl_entry "$s" | cut -d'|' -f2)" >> "$T/dates"; done
	HELD_AT=$(date +%s)
	check "[$fp] the hold is older than the hook's hold_days (1 s)" cs_wait_for 5 hold_aged
	HOLD=1
	crashes_at "$fp"
	check_exit 0 "[$fp] the next certsyncd --once finishes" agent
	HOLD=
	check "[$fp] both revoked" statuses_are "$ADDR" revoked
	# shellcheck disable=SC2086
	check "[$fp] both on the CRL as Cessation Of Operation" \
	    crl_reasons $SERIALS "Cessation Of Operation"
	for s in $SERIALS; do
		check "[$fp] $s still dated when it was put on hold" \
		    test "$s $(crl_entry "$s" | cut -d'|' -f2)" = "$(grep "^$s " "$T/dates")"
	done
	# shellcheck disable=SC2086
	check "[$fp] the keys in the archive, out of the keystore" keys_where $SERIALS archive
	check "[$fp] no job left" queued_zero
	check "[$fp] the earlier rounds' users are as they were" others_intact
	echo "$ADDR revoked" >> "$T/others"
done
cs_done
