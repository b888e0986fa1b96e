#!/bin/sh
# SPDX-License-Identifier: MIT
# The privilege boundary, checked on what the objects reference (nm -u), not
# on what the sources include: a role may not call code that another role's
# objects define, and the holder library calls nothing of the daemons'
# (logging, seccomp, privilege drop, Landlock).  The include paths
# (Makefile, per role) make the crossing hard to write; this makes it fail.
#
# usage: check-boundaries.sh BUILD_DIR
# The object lists of each role can be replaced through the environment
# (HOLDER_OBJS, CTL_OBJS, CORE_OBJS, MEMCTX_OBJS, PROTO_OBJS, SANDBOX_OBJS):
# tests/unit/test_boundaries.c plants a crossing that way and expects a
# failure.
set -eu
B=${1:?usage: check-boundaries.sh BUILD_DIR}
cd "$(dirname "$0")/.."
objs() { ls "$B/$1"/*.o 2>/dev/null | grep -v '/main\.o$' | tr '\n' ' '; }
: "${PROTO_OBJS:=$(objs proto)}"
: "${SANDBOX_OBJS:=$(objs sandbox)}"
: "${CORE_OBJS:=$(objs vmsigd) $B/vmsigd/main.o}"
: "${MEMCTX_OBJS:=$(objs vmsig-memctx) $B/vmsig-memctx/main.o}"
: "${HOLDER_OBJS:=$(objs vmsig-holder)}"
: "${CTL_OBJS:=$(objs vmsigctl)}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsig-bound.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# $1: role name; the rest: objects.  Writes $tmp/NAME.def and NAME.undef.
syms() {
	n=$1; shift
	# shellcheck disable=SC2068
	nm -g --defined-only --format=posix $@ 2>/dev/null |
	    awk 'NF >= 2 && $2 ~ /^[TDBRCVW]$/ { print $1 }' | sort -u > "$tmp/$n.def"
	# shellcheck disable=SC2068
	nm -u --format=posix $@ 2>/dev/null | awk '{ print $1 }' | sort -u > "$tmp/$n.undef"
}
syms proto $PROTO_OBJS
syms sandbox $SANDBOX_OBJS
syms core $CORE_OBJS
syms memctx $MEMCTX_OBJS
syms holder $HOLDER_OBJS
syms ctl $CTL_OBJS

rc=0
# forbid ROLE OTHER WHY: ROLE references a symbol that OTHER defines.
forbid() {
	hits=$(comm -12 "$tmp/$1.undef" "$tmp/$2.def" | tr '\n' ' ')
	if [ -n "$hits" ]; then
		echo "boundary: $1 calls $2 code ($3): $hits"
		rc=1
	fi
}
# prefix ROLE REGEX WHY: ROLE references a symbol matching REGEX.
prefix() {
	hits=$(grep -E "$2" "$tmp/$1.undef" | tr '\n' ' ' || true)
	if [ -n "$hits" ]; then
		echo "boundary: $1 references $hits($3)"
		rc=1
	fi
}
forbid holder sandbox "holders carry no daemon code"
forbid holder core "holders carry no daemon code"
forbid holder memctx "holders carry no daemon code"
prefix holder '^(log_|fatal|seccomp_|privdrop_|landlock_|sandbox_|cap_)' \
    "a library never logs, exits or confines its caller"
forbid core memctx "the core never reads guest RAM"
forbid core holder "the core links no holder code"
prefix core '^(paging_)' "the core never walks guest page tables"
forbid memctx core "the helper links no core code"
forbid memctx holder "the helper links no holder code"
for r in sandbox core memctx holder; do forbid proto $r "proto/ is below every role"; done
for r in core memctx holder; do forbid sandbox $r "sandbox/ is below both daemons"; done
# vmsigctl is a holder like any other: the public API and nothing else.
cat "$tmp/holder.def" "$tmp/proto.def" | sort -u > "$tmp/lib.def"
hits=$(comm -12 "$tmp/ctl.undef" "$tmp/lib.def" | grep -v '^vmsig_' | tr '\n' ' ' || true)
[ -n "$hits" ] && { echo "boundary: vmsigctl calls library internals: $hits"; rc=1; }
for r in sandbox core memctx; do forbid ctl $r "vmsigctl is a holder"; done
# The shared library exports the public API only (visibility, version script).
so=${HOLDER_SO:-$B/libvmsig-holder.so.0}
if [ -f "$so" ]; then
	hits=$(nm -D --defined-only "$so" | awk '{ print $NF }' |
	    grep -Ev '^(vmsig_|_init$|_fini$)' | tr '\n' ' ' || true)
	[ -n "$hits" ] && { echo "boundary: $so exports $hits"; rc=1; }
fi
# Only proto/ passes descriptors.
fdp=$(grep -lE 'SCM_RIGHTS' vmsigd/*.c vmsig-memctx/*.c vmsig-holder/*.c vmsigctl/*.c 2>/dev/null || true)
[ -n "$fdp" ] && { echo "boundary: SCM_RIGHTS outside proto/: $fdp"; rc=1; }
[ $rc -eq 0 ] && echo "boundaries: ok"
exit $rc
