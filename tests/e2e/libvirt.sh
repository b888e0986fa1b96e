#!/bin/sh
# SPDX-License-Identifier: MIT
# End-to-end test with the real libvirt: this script starts virtlogd and
# libvirtd itself (no systemd is needed), installs the vmsig libvirt hook
# (dist/libvirt/vmsig) and defines a type='qemu' (TCG) domain that boots the
# real-guest test's kernel and busybox initramfs (tests/qemu/fetch-guest.sh)
# with shared file memory and vmsig's own QMP monitor.  The hook starts the
# helper for the domain (directly, as without systemd); a holder,
# `vmsigctl watch --json` against the build tree's vmsigd, must see:
#   virsh start    MEMCTX
#   virsh reset    exactly one MEMCTX_INVALIDATED and one new MEMCTX
#   virsh destroy  MEMCTX_INVALIDATED, then ENDPOINT_GONE
#   virsh start    a fresh MEMCTX in a later epoch
#
#   B=build tests/e2e/libvirt.sh          (as root, after make)
#
# Exit 0 when it passed, 77 (skip, with the reason) when a tool is missing
# or another libvirtd runs, 1 on failure (the logs are printed).  Every
# process it starts is ended by pid; files it puts under /etc are removed
# (anything they replaced is put back).
#
# Runs in: tests (root)
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
B=${B:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
dom=vmsig-e2e
t0=$(date +%s)
say() { echo "e2e-libvirt: $*"; }
skip() { say "skip: $*"; exit 77; }
step() { say "$(($(date +%s) - t0)) s: $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (libvirtd, users, /etc/libvirt/hooks)"
for t in libvirtd virtlogd virsh qemu-system-x86_64 setfacl setsid \
    systemd-sysusers; do
	command -v "$t" >/dev/null 2>&1 ||
	    skip "$t is missing; run: VMSIG_DEPS_E2E=1 scripts/install-deps.sh"
done
for b in sbin/vmsigd sbin/vmsig-memctx bin/vmsigctl; do
	[ -x "$B/$b" ] || { say "FAIL: $B/$b is missing (make B=... all)"; exit 1; }
done
if [ -S /run/libvirt/libvirt-sock ] && virsh -c qemu:///system version \
    >/dev/null 2>&1; then
	skip "a libvirtd runs already; this test starts its own"
fi
tests/qemu/fetch-guest.sh "$B/qemu"
case $? in 0) ;; 77) skip "no guest kernel (see above)" ;; *) exit 1 ;; esac

T=$(mktemp -d "${TMPDIR:-/tmp}/vmsig-e2e-libvirt.XXXXXX")
chmod 0755 "$T"
hook=/etc/libvirt/hooks/qemu.d/vmsig
hconf=/etc/vmsig/libvirt-hook.conf
denv=/etc/vmsig/memctx-$dom.env
pids=""
rc=1

cleanup() {
	trap - EXIT INT TERM
	# VMSIG_E2E_HOLD=SECONDS: time to look around before a failed run
	# is cleaned up.
	[ $rc -ne 0 ] && [ -n "${VMSIG_E2E_HOLD:-}" ] &&
	    { say "holding $VMSIG_E2E_HOLD s in $T"; sleep "$VMSIG_E2E_HOLD"; }
	if [ -n "${lv_pid:-}" ]; then
		virsh -q destroy "$dom" >/dev/null 2>&1
		virsh -q undefine "$dom" >/dev/null 2>&1
	fi
	# The helper, if the hook left one (it stops it on "stopped").
	if [ -r "$T/run/$dom.pid" ]; then
		p=$(cat "$T/run/$dom.pid")
		grep -q vmsig-memctx "/proc/$p/cmdline" 2>/dev/null &&
		    kill "$p" 2>/dev/null
	fi
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do
		n=0
		while kill -0 "$p" 2>/dev/null && [ $n -lt 50 ]; do
			sleep 0.1; n=$((n + 1))
		done
		kill -KILL "$p" 2>/dev/null
	done
	for f in "$hook" "$hconf" "$denv"; do
		rm -f "$f"
		[ -e "$T/save/${f##*/}" ] && mv "$T/save/${f##*/}" "$f"
	done
	if [ $rc -ne 0 ]; then
		echo "---- processes"
		ps -eo pid,ppid,user,stat,args | grep -E 'vmsig|qemu-system' | grep -v grep
		for f in "$T"/vmsigd.log "$T"/run/hook.log "$T"/run/$dom.log \
		    "$T"/events.jsonl "$T"/libvirtd.log "$T"/serial.log; do
			[ -s "$f" ] || continue
			echo "---- $f"; tail -n 40 "$f"
		done
		ls /var/log/libvirt/qemu/$dom.log >/dev/null 2>&1 &&
		    { echo "---- qemu"; tail -n 20 /var/log/libvirt/qemu/$dom.log; }
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Spawn in the background; the pid goes to $pids for the cleanup.
spawn() {	# log command...
	log=$1; shift
	"$@" </dev/null >"$log" 2>&1 &
	pids="$pids $!"
	last=$!
}

# Wait (bounded) until `cond` succeeds.
wait_for() {	# seconds what cond...
	secs=$1 what=$2; shift 2
	n=0
	while ! "$@"; do
		n=$((n + 1))
		[ $n -gt $((secs * 10)) ] && { say "FAIL: timeout ($secs s): $what"; exit 1; }
		sleep 0.1
	done
}

# --- users and groups: libvirt's (as libvirt-daemon-system makes them)
# and vmsig's (its own sysusers.d file).
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g kvm -G libvirt-qemu -d /var/lib/libvirt \
    -s /usr/sbin/nologin -c "Libvirt Qemu" libvirt-qemu
systemd-sysusers "$top/dist/sysusers.d/vmsig.conf"

# --- the hook and its settings, before libvirtd reads the hook directory.
mkdir -p "$T/save" /etc/libvirt/hooks/qemu.d /etc/vmsig "$T/run"
for f in "$hook" "$hconf" "$denv"; do
	[ -e "$f" ] && mv "$f" "$T/save/${f##*/}"
done
sed -e "s|@SBINDIR@|$B/sbin|g" dist/libvirt/vmsig >"$hook"
chmod 755 "$hook"
cat >"$hconf" <<EOF
# written by tests/e2e/libvirt.sh; removed when it ends
VMSIG_SYSTEMD=no
VMSIG_RUN_DIR=$T/run
VMSIG_ADAPTER_SOCKET=$T/adapter.sock
VMSIG_MEMCTX_BIN=$B/sbin/vmsig-memctx
EOF
# A Linux guest: kcr3 is CR3 as QEMU reports it.
echo "VMSIG_MEMCTX_EXTRA=\"--kcr3 qmp ${VMSIG_E2E_HELPER_OPTS:-}\"" >"$denv"

# --- vmsigd from the build tree, as root dropping to vmsig.
spawn "$T/vmsigd.log" "$B/sbin/vmsigd" -f --user vmsig \
    --holder-socket "$T/holder.sock" --adapter-socket "$T/adapter.sock" \
    --allow-adapter user:vmsig-memctx --gone-ms 2000
wait_for 10 "vmsigd's sockets" test -S "$T/adapter.sock"

step "vmsigd runs"
# --- virtlogd and libvirtd, ours.
spawn "$T/virtlogd.log" virtlogd
# The domain is TCG.  A /dev/kvm that root may use and libvirt-qemu may
# not makes libvirtd probe QEMU again at every look (about 50 s here):
# libvirtd gets its own mount namespace where /dev/kvm is /dev/null.
if [ -c /dev/kvm ] && command -v unshare >/dev/null 2>&1; then
	spawn "$T/libvirtd.log" unshare -m sh -c \
	    'mount --bind /dev/null /dev/kvm && exec libvirtd'
else
	spawn "$T/libvirtd.log" libvirtd
fi
lv_pid=$last
lv_up() { virsh -q -c qemu:///system version >/dev/null 2>&1; }
wait_for 120 "libvirtd answers" lv_up
export LIBVIRT_DEFAULT_URI=qemu:///system
# A domain of that name left by an interrupted run goes first.
virsh -q destroy "$dom" >/dev/null 2>&1
virsh -q undefine "$dom" >/dev/null 2>&1

step "libvirtd answers"
# --- the guest: kernel and initramfs where QEMU (libvirt-qemu) can read.
mkdir -p "$T/boot"
cp "$B/qemu/vmlinuz" "$B/qemu/initrd.gz" "$T/boot/"
chmod 0755 "$T/boot"
chmod 0644 "$T/boot"/*
cat >"$T/$dom.xml" <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$dom</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <memoryBacking>
    <source type='file'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$T/boot/vmlinuz</kernel>
    <initrd>$T/boot/initrd.gz</initrd>
    <cmdline>console=ttyS0 nokaslr panic=-1</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'>
      <source path='$T/serial.log'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-chardev'/>
    <qemu:arg value='socket,id=vmsigqmp,path=$T/run/qmp/$dom.sock,server=on,wait=off'/>
    <qemu:arg value='-mon'/>
    <qemu:arg value='chardev=vmsigqmp,mode=control'/>
  </qemu:commandline>
</domain>
EOF
virsh -q define "$T/$dom.xml" >/dev/null || { say "FAIL: virsh define"; exit 1; }

# --- the holder.
spawn "$T/events.jsonl" "$B/bin/vmsigctl" --socket "$T/holder.sock" watch --json
ev="$T/events.jsonl"
count() { grep -c "\"type\": *\"$1\"" "$ev" 2>/dev/null || true; }
has() { [ "$(count "$1")" -ge "$2" ]; }
markers() { grep -c VMSIG-GUEST-READY "$T/serial.log" 2>/dev/null || true; }
booted() { [ "$(markers)" -ge "$1" ]; }
epoch_of_last() {	# type
	grep "\"type\": *\"$1\"" "$ev" | tail -n 1 |
	    sed -n 's/.*"epoch": *\([0-9]*\).*/\1/p'
}


step "virsh start"
virsh -q start "$dom" >/dev/null || { say "FAIL: virsh start"; exit 1; }
wait_for 120 "the hook's helper delivers MEMCTX" has MEMCTX 1
wait_for 120 "the guest boots" booted 1
# The hook starts the helper as the domain starts, so with --kcr3 qmp it
# may vend a table of the booting kernel that dies a moment later (an
# epoch of its own, documented in vmsig-memctx(8)).  What follows is
# counted from here, once the booted guest has settled.
sleep 3
i0=$(count MEMCTX_INVALIDATED)
c0=$(count MEMCTX)
e1=$(epoch_of_last MEMCTX)
step "MEMCTX epoch $e1"
# The hook's helper: vmsig-memctx's uid, no capability left.
hp=$(cat "$T/run/$dom.pid" 2>/dev/null)
[ -n "$hp" ] && [ -r "/proc/$hp/status" ] || { say "FAIL: no helper pid"; exit 1; }
huid=$(awk '/^Uid:/ { print $3 }' "/proc/$hp/status")
hcap=$(awk '/^CapEff:/ { print $2 }' "/proc/$hp/status")
if [ "$huid" != "$(id -u vmsig-memctx)" ] || [ "$hcap" != 0000000000000000 ]; then
	say "FAIL: the helper runs as uid $huid with CapEff $hcap"
	exit 1
fi
step "helper pid $hp: uid vmsig-memctx, no capability"

# Reset: exactly one epoch bump.  The guest's second marker says it has
# booted again; then the new context must be there and nothing else.
step "virsh reset"
virsh -q reset "$dom" >/dev/null || { say "FAIL: virsh reset"; exit 1; }
wait_for 60 "MEMCTX_INVALIDATED after reset" has MEMCTX_INVALIDATED $((i0 + 1))
wait_for 120 "MEMCTX after reset" has MEMCTX $((c0 + 1))
wait_for 120 "the guest boots again" booted 2
sleep 2
e2=$(epoch_of_last MEMCTX)
if [ "$(count MEMCTX_INVALIDATED)" -ne $((i0 + 1)) ] ||
    [ "$(count MEMCTX)" -ne $((c0 + 1)) ] || [ "$e2" -ne $((e1 + 1)) ]; then
	say "FAIL: reset: want one MEMCTX_INVALIDATED and one MEMCTX" \
	    "in epoch $((e1 + 1))"
	exit 1
fi
step "reset: MEMCTX_INVALIDATED, MEMCTX epoch $e2"

step "virsh destroy"
virsh -q destroy "$dom" >/dev/null || { say "FAIL: virsh destroy"; exit 1; }
wait_for 30 "MEMCTX_INVALIDATED after destroy" has MEMCTX_INVALIDATED $((i0 + 2))
wait_for 30 "ENDPOINT_GONE after destroy" has ENDPOINT_GONE 1
last_two=$(grep -o '"type": *"[A-Z_]*"' "$ev" | tail -n 2 | tr -d ' "' |
    sed 's/type://' | tr '\n' ' ')
[ "$last_two" = "MEMCTX_INVALIDATED ENDPOINT_GONE " ] ||
    { say "FAIL: destroy: want MEMCTX_INVALIDATED then ENDPOINT_GONE, saw $last_two"; exit 1; }
[ ! -e "$T/run/$dom.pid" ] || { say "FAIL: the hook left $T/run/$dom.pid"; exit 1; }
step "destroy: MEMCTX_INVALIDATED, ENDPOINT_GONE"

step "virsh start (again)"
: >"$T/serial.log.keep"
virsh -q start "$dom" >/dev/null || { say "FAIL: virsh start (again)"; exit 1; }
wait_for 120 "a fresh MEMCTX" has MEMCTX $((c0 + 2))
e3=$(epoch_of_last MEMCTX)
[ "$e3" -gt "$e2" ] || { say "FAIL: start: epoch $e3 is not after $e2"; exit 1; }
step "start: MEMCTX epoch $e3"
virsh -q destroy "$dom" >/dev/null
wait_for 30 "ENDPOINT_GONE at the end" has ENDPOINT_GONE 2

echo "e2e-libvirt: events the holder saw:"
sed 's/^/  /' "$ev" | cut -c 1-160
say "passed in $(($(date +%s) - t0)) s"
echo "e2e-libvirt: 1 passed, 0 failed"
rc=0
