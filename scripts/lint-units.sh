#!/bin/sh
# SPDX-License-Identifier: MIT
# Lint the systemd units in dist/ (called by `make lint`):
#  1. systemd-analyze verify on every unit, from a temporary copy.  The units
#     name the installed binaries (/usr/sbin/...); on a machine without them
#     the copy points ExecStart= at the build tree's binaries ($B, default
#     build/) when they exist, and otherwise only the one message "Command
#     /usr/sbin/... is not executable" is forgiven.  Man pages are not
#     looked up (--man=no): they are checked by mandoc.
#  2. systemd-analyze security --offline=true --threshold=N: the overall
#     exposure must be at most 0.4 for vmsigd.service and for
#     vmsig-memctx@.service.  systemd counts the threshold in tenths of the
#     0-10 scale it prints (threshold 5 = 0.5), checked with systemd 252.
#  3. dist/sysusers.d and dist/tmpfiles.d applied to an empty root (as root).
# Prints the figures; exits non-zero on any finding.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
SA=${SYSTEMD_ANALYZE:-systemd-analyze}

if ! command -v "$SA" >/dev/null 2>&1; then
	echo "lint-units: $SA not found (apt-get install systemd)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
rc=0
units="vmsigd.service vmsigd.socket vmsigd-adapter.socket vmsig-memctx@.service"

# The copy: ExecStart= at the build tree when the installed binary is absent.
for u in $units; do
	[ -f "dist/$u" ] || { echo "lint-units: dist/$u missing"; rc=1; continue; }
	cp "dist/$u" "$tmp/$u"
done
for bin in vmsigd vmsig-memctx; do
	[ -x "/usr/sbin/$bin" ] && continue
	[ -f "$B/sbin/$bin" ] && [ -x "$B/sbin/$bin" ] || continue
	abs=$(cd "$B/sbin" && pwd)/$bin
	sed -i "s|^ExecStart=/usr/sbin/$bin|ExecStart=$abs|" "$tmp"/*.service
done

# 1. verify.  Units are checked by file name from inside the copy so that
# the sockets find vmsigd.service next to them.
out=$(cd "$tmp" && "$SA" verify --man=no $units 2>&1)
vrc=$?
left=$(printf '%s\n' "$out" | grep -v '^$' |
    grep -vE '^vmsig[-a-z@]*\.service: Command /usr/sbin/(vmsigd|vmsig-memctx) is not executable: No such file or directory$')
if [ -n "$left" ]; then
	echo "lint-units: systemd-analyze verify:"
	printf '%s\n' "$left"
	rc=1
elif [ $vrc -ne 0 ] && [ -z "$out" ]; then
	echo "lint-units: systemd-analyze verify failed ($vrc) without a message"
	rc=1
else
	echo "lint-units: verify ok ($units)"
fi

# 2b. sysusers.d and tmpfiles.d, applied to an empty root (chown needs root).
if [ "$(id -u)" -eq 0 ] && command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$tmp/root/etc"
	if systemd-sysusers --root="$tmp/root" "$PWD/dist/sysusers.d/vmsig.conf" \
	    >"$tmp/out" 2>&1 &&
	    systemd-tmpfiles --root="$tmp/root" --create \
	    "$PWD/dist/tmpfiles.d/vmsig.conf" >>"$tmp/out" 2>&1 &&
	    [ -d "$tmp/root/run/vmsig" ]; then
		echo "lint-units: sysusers.d and tmpfiles.d ok"
	else
		echo "lint-units: sysusers.d/tmpfiles.d:"; cat "$tmp/out"; rc=1
	fi
else
	echo "lint-units: sysusers.d/tmpfiles.d not checked (needs root)"
fi

# 2. security.  A template is scored as is (systemd instantiates it).
score() {	# unit threshold-in-tenths
	s=$(cd "$tmp" && "$SA" security --offline=true --threshold="$2" "$1" 2>&1)
	src=$?
	level=$(printf '%s\n' "$s" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$level" ]; then
		echo "lint-units: security $1: no score"
		printf '%s\n' "$s" | tail -5
		rc=1
		return
	fi
	if [ $src -ne 0 ]; then
		echo "lint-units: security $1: exposure $level, over $(($2 / 10)).$(($2 % 10))"
		printf '%s\n' "$s" | grep '✗'
		rc=1
	else
		echo "lint-units: security $1: exposure $level (at most $(($2 / 10)).$(($2 % 10)))"
	fi
}
score vmsigd.service 4
score vmsig-memctx@.service 4

exit $rc
