#!/bin/sh
# SPDX-License-Identifier: MIT
# End-to-end test under a real systemd as PID 1: a Debian 12 root file
# system (mmdebstrap, minbase plus systemd, cached as $B/e2e-rootfs.tar; a
# second run reuses it and unpacks a fresh copy) booted with systemd-nspawn
# (--register=no --keep-unit: no D-Bus or machined on the host), the .deb
# packages that dpkg-buildpackage makes of this tree installed into it, and
# from inside:
#   - after the install vmsigd.socket listens and vmsigd is not running;
#     the first holder's connection starts it (socket activation);
#   - vmsig-memctx@g1.service on a synthetic guest (tests/guestgen) delivers
#     MEMCTX to `vmsigctl watch` run by a user of the vmsig group;
#   - the libvirt hook, called as libvirtd calls it for a domain whose RAM
#     file is laid out as libvirt 9.0 does, starts vmsig-memctx@dom1, which
#     delivers MEMCTX without any capability, and stops it;
#   - `systemctl reload vmsigd` keeps that watcher connected (same vmsigd,
#     and the helper's next context reaches the same watcher);
#   - `systemd-analyze security` rates both units at most 0.4.
#
#   B=build tests/e2e/systemd.sh          (as root, after make)
#
# VMSIG_E2E_DEBS=DIR uses the packages in DIR instead of building them.
# Exit 0 when it passed, 77 (skip, with the reason) when a tool is missing,
# 1 on failure (the container's log is printed).  Every wait is bounded;
# the container is stopped by the pid of its systemd-nspawn.
#
# Runs in: tests (root)
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
B=${B:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
t0=$(date +%s)
say() { echo "e2e-systemd: $*"; }
skip() { say "skip: $*"; exit 77; }
step() { say "$(($(date +%s) - t0)) s: $*"; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap, systemd-nspawn)"
for t in mmdebstrap systemd-nspawn nsenter dpkg-buildpackage; do
	command -v "$t" >/dev/null 2>&1 ||
	    skip "$t is missing; run: VMSIG_DEPS_E2E=1 scripts/install-deps.sh"
done
[ -x "$B/guestgen" ] || fail "$B/guestgen is missing (make B=... all)"

T=$(mktemp -d "${TMPDIR:-/tmp}/vmsig-e2e-systemd.XXXXXX")
nsp=""
rc=1
cleanup() {
	trap - EXIT INT TERM
	if [ $rc -ne 0 ] && [ -n "${pid:-}" ]; then
		nsenter -t "$pid" -a journalctl -q --no-pager -n 60 \
		    >"$T/journal.txt" 2>&1
		nsenter -t "$pid" -a systemctl --no-pager status vmsigd.socket \
		    vmsigd.service 'vmsig-memctx@*' >>"$T/journal.txt" 2>&1
	fi
	if [ -n "$nsp" ] && kill -0 "$nsp" 2>/dev/null; then
		# SIGTERM: nspawn asks the container's systemd to power off.
		kill -TERM "$nsp" 2>/dev/null
		n=0
		while kill -0 "$nsp" 2>/dev/null && [ $n -lt 300 ]; do
			sleep 0.1; n=$((n + 1))
		done
		kill -KILL "$nsp" 2>/dev/null
	fi
	for p in ${wpid:-}; do kill "$p" 2>/dev/null; done
	if [ $rc -ne 0 ]; then
		for f in "$T/watch.jsonl" "$T/journal.txt"; do
			[ -s "$f" ] || continue
			echo "---- $f"; tail -n 60 "$f"
		done
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

wait_for() {	# seconds what cond...
	secs=$1 what=$2; shift 2
	n=0
	while ! "$@"; do
		n=$((n + 1))
		[ $n -gt $((secs * 10)) ] && fail "timeout ($secs s): $what"
		sleep 0.1
	done
}

# --- the root file system, made once and kept as a tar archive (a tree
# under $B would hold directories named *.d, which the Makefile's
# dependency include picks up), unpacked afresh for each run.
cache=$B/e2e-rootfs.tar
if [ ! -s "$cache" ]; then
	step "mmdebstrap bookworm into $cache (once)"
	src=/etc/apt/sources.list.d/debian.sources
	[ -r "$src" ] || src=""
	# The shared libraries the packages need come in now: the container
	# installs the .deb files with dpkg alone.
	# shellcheck disable=SC2086
	mmdebstrap --quiet --variant=minbase --format=tar \
	    --include=systemd,systemd-sysv,dbus,procps,libprotobuf-c1,libseccomp2,libcap2,libjson-c5,acl \
	    bookworm "$cache.tmp" $src >"$T/mmdebstrap.log" 2>&1 ||
	    { tail -n 20 "$T/mmdebstrap.log"; rm -f "$cache.tmp";
	      skip "mmdebstrap failed (no archive?)"; }
	mv "$cache.tmp" "$cache"
fi
root=$T/rootfs
mkdir -p "$root"
tar -C "$root" -xf "$cache" || fail "unpacking $cache"

# --- the packages of this tree.
debs=${VMSIG_E2E_DEBS:-}
if [ -z "$debs" ]; then
	step "dpkg-buildpackage"
	debs=$T/debs
	mkdir -p "$debs/src"
	tar -C "$top" --exclude='./build*' --exclude=./.git -cf - . |
	    tar -C "$debs/src" -xf -
	(cd "$debs/src" && dpkg-buildpackage -us -uc -b) >"$T/dpkg.log" 2>&1 ||
	    { tail -n 30 "$T/dpkg.log"; fail "dpkg-buildpackage"; }
fi
ls "$debs"/vmsig_*.deb "$debs"/libvmsig-holder0_*.deb >/dev/null 2>&1 ||
    fail "no vmsig_*.deb and libvmsig-holder0_*.deb in $debs"

# --- boot it.
step "boot the container"
systemd-nspawn -q -D "$root" -b --register=no --keep-unit \
    --system-call-filter="landlock_create_ruleset landlock_add_rule landlock_restrict_self" \
    -M vmsig-e2e --bind-ro="$debs":/debs \
    --bind-ro="$B/guestgen":/usr/local/bin/vmsig-guestgen \
    </dev/null >"$T/nspawn.log" 2>&1 &
nsp=$!
leader() {	# the container's systemd: nspawn's child named systemd
	for c in $(ps -o pid= --ppid "$nsp" 2>/dev/null); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ] && { echo "$c"; return 0; }
	done
	return 1
}
wait_for 60 "the container's systemd" leader
pid=$(leader)
ct() { nsenter -t "$pid" -a "$@"; }
bus() { ct test -S /run/systemd/private; }
wait_for 60 "the container's systemd listens" bus
st=$(ct timeout 120 systemctl is-system-running --wait 2>&1)
case $st in running|degraded) ;; *) fail "container not up: $st" ;; esac
step "container up ($st)"

# --- install.
ct sh -c 'dpkg -i /debs/libvmsig-holder0_*.deb /debs/vmsig_*.deb' \
    >"$T/dpkg-i.log" 2>&1 || { cat "$T/dpkg-i.log"; fail "dpkg -i"; }
ct systemctl -q is-active vmsigd.socket || fail "vmsigd.socket is not active"
ct systemctl -q is-active vmsigd-adapter.socket ||
    fail "vmsigd-adapter.socket is not active"
ct systemctl -q is-enabled vmsigd.socket || fail "vmsigd.socket is not enabled"
ct getent passwd vmsig-memctx >/dev/null || fail "sysusers made no vmsig-memctx"
ct test -d /run/vmsig-memctx || fail "tmpfiles made no /run/vmsig-memctx"
ct systemctl -q is-active vmsigd.service && fail "vmsigd runs before any holder"
step "installed: sockets listen, vmsigd waits"

# --- a holder of the vmsig group; its connection starts vmsigd.
ct useradd -m -G vmsig alice
ct vmsig-guestgen --out /dev/shm/g1.ram --manifest /tmp/g1.json \
    --size 64M >/dev/null || fail "guestgen"
ct chgrp vmsig /dev/shm/g1.ram
ct chmod 0640 /dev/shm/g1.ram
ct sh -c 'echo "VMSIG_MEMCTX_OPTS=\"--endpoint 1 --ram /dev/shm/g1.ram\"" \
    >/etc/vmsig/memctx-g1.env'
nsenter -t "$pid" -a runuser -u alice -- vmsigctl watch --json \
    </dev/null >"$T/watch.jsonl" 2>&1 &
wpid=$!
active() { ct systemctl -q is-active vmsigd.service; }
wait_for 20 "vmsigd started by the holder's connection" active
dpid=$(ct systemctl show -P MainPID vmsigd.service)
step "socket activation: vmsigd pid $dpid"

count() { grep -c "\"type\": *\"$1\"" "$T/watch.jsonl" 2>/dev/null || true; }
has() { [ "$(count "$1")" -ge "$2" ]; }
ct systemctl start vmsig-memctx@g1.service || fail "start vmsig-memctx@g1"
wait_for 30 "MEMCTX from vmsig-memctx@g1" has MEMCTX 1
step "vmsig-memctx@g1: MEMCTX reached alice's watch"

# --- the libvirt hook under systemd: a domain's RAM file as libvirt 9.0
# lays it out (0644 in a 0700 directory of QEMU's user), the hook called as
# libvirtd calls it: vmsig-memctx@dom1 reads it without any capability.
ct useradd -r -M -s /usr/sbin/nologin libvirt-qemu
ct sh -c 'd=/var/lib/libvirt/qemu/ram/5-dom1 && mkdir -p $d &&
    vmsig-guestgen --out $d/pc.ram --manifest /tmp/dom1.json --size 64M \
    >/dev/null && chown -R libvirt-qemu: $d && chmod 0700 $d &&
    chmod 0644 $d/pc.ram' || fail "the fake libvirt RAM file"
printf "%s\n" "<domain type='kvm' id='5'>" "  <name>dom1</name>" \
    "  <memoryBacking>" "    <source type='file'/>" \
    "    <access mode='shared'/>" "  </memoryBacking>" "</domain>" \
    >"$T/dom1.xml"
ct sh -c 'cat >/etc/vmsig/dom1.xml' <"$T/dom1.xml"
hook() {	# operation
	ct sh -c "/etc/libvirt/hooks/qemu.d/vmsig dom1 $1 begin - </etc/vmsig/dom1.xml"
}
hook started || fail "the hook (started)"
wait_for 30 "MEMCTX of dom1 through the hook" has MEMCTX 2
ct systemctl -q is-active vmsig-memctx@dom1.service ||
    fail "vmsig-memctx@dom1 is not active"
hook stopped || fail "the hook (stopped)"
wait_for 30 "ENDPOINT_GONE of dom1" has ENDPOINT_GONE 1
step "libvirt hook: vmsig-memctx@dom1 started and stopped"

# --- the units' exposure, as this systemd rates them.
for u in vmsigd.service vmsig-memctx@g1.service; do
	s=$(ct systemd-analyze security "$u" 2>&1 |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$s" ] || fail "systemd-analyze security $u: no score"
	awk -v s="$s" 'BEGIN { exit !(s <= 0.4) }' ||
	    fail "systemd-analyze security $u: $s, over 0.4"
	say "systemd-analyze security $u: $s"
done

# --- reload: same vmsigd, same watcher.
ct systemctl reload vmsigd.service || fail "systemctl reload vmsigd"
sleep 1
kill -0 "$wpid" 2>/dev/null || fail "the watcher ended at the reload"
[ "$(ct systemctl show -P MainPID vmsigd.service)" = "$dpid" ] ||
    fail "vmsigd was restarted, not reloaded"
ct systemctl restart vmsig-memctx@g1.service
wait_for 30 "another MEMCTX on the same watcher" has MEMCTX 3
step "reload: the watcher stayed connected"

ct journalctl -q --no-pager -u vmsigd -u 'vmsig-memctx@*' >"$T/journal.txt" 2>&1
echo "e2e-systemd: events alice's watch saw:"
sed 's/^/  /' "$T/watch.jsonl" | cut -c 1-160
say "passed in $(($(date +%s) - t0)) s"
echo "e2e-systemd: 1 passed, 0 failed"
rc=0
