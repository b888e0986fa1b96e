#!/bin/sh
# SPDX-License-Identifier: MIT
# The privilege boundary, restated: no role includes another role's private
# headers, and the holder library never touches the sandbox or guest-RAM code.
set -eu
cd "$(dirname "$0")/.."
rc=0
check() {	# dir forbidden-pattern why
	hits=$(grep -nE "#include \"($2)" "$1"/*.c "$1"/*.h 2>/dev/null || true)
	if [ -n "$hits" ]; then
		echo "boundary: $1 includes $2 ($3):"; echo "$hits"; rc=1
	fi
}
check vmsigd '\.\./vmsig-memctx/|\.\./vmsig-holder/|memctx\.h"|holder_priv' "the core never links helper or holder code"
check vmsig-memctx '\.\./vmsigd/|\.\./vmsig-holder/|vmsigd\.h"' "the helper never links core or holder code"
check vmsig-holder '\.\./vmsigd/|\.\./vmsig-memctx/|\.\./sandbox/|sandbox' "holders carry no daemon code"
check proto '\.\./vmsigd/|\.\./vmsig-memctx/|\.\./vmsig-holder/|\.\./sandbox/' "proto/ is below every role"
check sandbox '\.\./vmsigd/|\.\./vmsig-memctx/|\.\./vmsig-holder/' "sandbox/ is below both daemons"
# Only proto/ passes descriptors.
fdp=$(grep -lE 'SCM_RIGHTS' vmsigd/*.c vmsig-memctx/*.c vmsig-holder/*.c 2>/dev/null || true)
[ -n "$fdp" ] && { echo "boundary: SCM_RIGHTS outside proto/: $fdp"; rc=1; }
[ $rc -eq 0 ] && echo "boundaries: ok"
exit $rc
