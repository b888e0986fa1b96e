#!/bin/sh
# SPDX-License-Identifier: MIT
# Run test binaries one after another, keep going past a red one, and end
# with one summary line.  Each cmocka binary prints its own [  PASSED  ]
# and [  FAILED  ] counts; we add them up.
set -u
pass=0 fail=0 skip=0 bad=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	echo "== $t"
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$rc" -ne 0 ]; then
		bad="$bad $t"
		[ "$f" -eq 0 ] && fail=$((fail + 1))
	fi
done
echo
[ -n "$bad" ] && echo "red:$bad"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ -z "$bad" ]
