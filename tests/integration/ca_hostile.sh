#!/bin/sh
# ca_hostile.sh - the CA process against a parent that lies to it.
#
# Proves, with tests/unit/ca_driver speaking the protocol to a real
# certsync-ca (the one certsyncd starts): every request the profile would
# not produce is refused with a reason naming the problem - CA:TRUE, an
# extendedKeyUsage beyond emailProtection, a validity past validity_days or
# past the CA's own, an invalid or unnormalized address, an unknown kind, a
# kind the mode does not issue, a subject the variables do not make, an
# extension added or left out, keyCertSign, a key of another type or the
# CA's own key, a control character, another protocol version, truncated,
# trailing, BER and random bytes, an empty message, a frame too long, a
# frame header that is neither 0 nor 1, a message over 64 MiB, and CRL
# requests numbered 0, with a negative or repeated serial, removeFromCRL, a
# revocation in the future, an old thisUpdate, nextUpdate before it, a time
# with a fraction; that the CA process survives them all and then signs 20
# good requests sent at once (each certificate verifying against the CA)
# and a good CRL of 301 entries (sorting them asks the kernel for the
# memory size), its entry with reason certificateHold (a hold of the safety
# catch) signed as such; that each refusal is in its audit log and
# on its stderr; that a ceiling of 3 signatures a minute refuses the 4th and 5th request
# as "rate ceiling" with a retry time; and what the kernel says of it once
# ready: descriptors 0-4 only (the socket and the audit log), no_new_privs,
# seccomp in filter mode, and, started as root, the user of [ca] user.
. "$CS_SRCDIR/tests/integration/lib.sh"
cs_need grep wc
CS_KEY_TYPE=ec:P-256
cs_setup

DRIVER=$CS_BUILDDIR/tests/unit/ca_driver
PROGRAM=$CS_BUILDDIR/certsync-ca
AUDIT=$T/ca/audit.log

check "hostile requests: each refused with its reason" \
    sh -c '"$1" hostile "$2" "$3" 2>"$4"' sh "$DRIVER" "$PROGRAM" "$CONF" "$T/ca.err"
cp "$T/last.out" "$T/hostile.out"
sed 's/^/    /' "$T/hostile.out"
nok=$(grep -c '^ok' "$T/hostile.out" || :)
check "... all $nok checks of the driver passed, none failed" \
    sh -c '[ "$1" -eq 38 ] && ! grep -q "^FAIL" "$2"' sh "$nok" "$T/hostile.out"
nref=$(grep -c '	refuse	' "$AUDIT" || :)
check "... the audit log holds a refuse line for each ($nref)" test "$nref" -eq 33
check "... each names the reason (CA:TRUE)" grep -q 'refuse.*reason=a CA certificate (basicConstraints CA:TRUE)' "$AUDIT"
check "... and the frame too long" grep -q 'refuse.*code=malformed.*a frame longer than' "$AUDIT"
check "... the CA process logged them on stderr too" \
    grep -q 'certsync-ca: warning: request .* refused: an extendedKeyUsage other than' "$T/ca.err"
nsign=$(grep -c '	sign	' "$AUDIT" || :)
check "... 20 signatures audited, no more ($nsign)" test "$nsign" -eq 20
check "... the CRL audited" grep -q '	crl	number=1	entries=301' "$AUDIT"

cp "$CONF" "$T/rate.conf"
sed -i 's/^\[ca\]$/[ca]\nmax_signatures_per_minute = 3/' "$T/rate.conf"
check "the ceiling: 3 signed, 2 refused as rate ceiling" \
    "$DRIVER" rate "$PROGRAM" "$T/rate.conf"
last_says 'rate ceiling: \[ca\] max_signatures_per_minute \(3\) reached; try again in [0-9]+ ms' \
    "... the reason names the setting and the wait"

check "what the kernel says of the ready CA process" "$DRIVER" facts "$PROGRAM" "$CONF"
last_says '^0 1 2 3 4 $' "... descriptors 0-4 only"
last_says '^NoNewPrivs:	1' "... no_new_privs"
last_says '^Seccomp:	2' "... seccomp in filter mode"
if [ "$(id -u)" -eq 0 ]; then
	last_says "^Uid:	$(id -u nobody)	$(id -u nobody)	$(id -u nobody)	$(id -u nobody)" \
	    "... started as root, it runs as [ca] user (nobody)"
fi
cs_done
