#!/bin/sh
# tests/fuzz/replay.sh - every fuzz target run once over its corpus.
#
# Owns: feeding each file of tests/fuzz/corpus/NAME/ to the replay driver
# of target NAME (tests/fuzz/replay_NAME: the target with a plain main(),
# built by make check with the build's compiler and flags, so under
# ASan+UBSan in scripts/check's sanitizer build).  Seconds, not minutes:
# no mutation, each input once.  Fails when a driver fails (a broken
# property aborts, a sanitizer reports, a leak is found) or when a target
# has no corpus.
# Never: fuzzes (scripts/fuzz does), or writes into the corpus.
set -eu
: "${CS_BUILDDIR:?run through make check}"
: "${CS_SRCDIR:?run through make check}"

out=$(mktemp -d "${TMPDIR:-/tmp}/certsync-replay.XXXXXX")
trap 'rm -rf "$out"' EXIT
targets="address identity subject conf syncrepl dirsync ds389 adcopy p12 kra certinfo escape"
fails=0
total=0
for t in $targets; do
	driver="$CS_BUILDDIR/tests/fuzz/replay_$t"
	corpus="$CS_SRCDIR/tests/fuzz/corpus/$t"
	n=$(find "$corpus" -type f 2>/dev/null | wc -l)
	if [ ! -x "$driver" ] || [ "$n" -eq 0 ]; then
		echo "FAIL: $t: no driver ($driver) or an empty corpus ($corpus)"
		fails=$((fails + 1))
		continue
	fi
	# The corpus files in a stable order, as arguments (no names with
	# spaces: libFuzzer names them by hash, seeds are named by us).
	# shellcheck disable=SC2046
	if "$driver" $(find "$corpus" -type f | LC_ALL=C sort) >"$out/$t" 2>&1; then
		echo "ok: $t: $n input(s)"
		total=$((total + n))
	else
		echo "FAIL: $t (its output follows)"
		tail -40 "$out/$t"
		fails=$((fails + 1))
	fi
done
echo "$total input(s) replayed, $fails target(s) failed"
[ "$fails" -eq 0 ]
