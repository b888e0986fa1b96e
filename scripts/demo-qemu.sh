#!/bin/bash
# SPDX-License-Identifier: MIT
# make demo-qemu: a real Linux guest (Debian's cloud kernel and a busybox
# initramfs, tests/qemu/fetch-guest.sh) under QEMU with TCG, the real
# vmsigd and vmsig-memctx --qmp, and a holder (vmsigctl) that reads the
# kernel's banner by virtual address, then sees a reset end the epoch and
# the rebooted guest come back in the next one.
set -euo pipefail
B=${B:-build}
marker=VMSIG-GUEST-READY
VMSIG_DEPS_QEMU=1 scripts/install-deps.sh
tests/qemu/fetch-guest.sh "$B/qemu" || {
	echo "demo-qemu: no guest here (see above)" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsig-demo-qemu.XXXXXX")
ram=$(mktemp /dev/shm/vmsig-demo-qemu.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir" "$ram"
}
trap cleanup EXIT
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
qmp() {	# one command on the demo's own monitor (python3: no QMP client in Debian's base)
	python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);f=s.makefile("rw")
for c in ("qmp_capabilities",sys.argv[2]):
	f.write("{\"execute\":\"%s\"}\n"%c);f.flush()
	while "return" not in f.readline():pass' "$dir/demo.qmp" "$1"
}
wait_marker() {	# $1: how many marker lines
	for _ in $(seq 600); do
		n=$(grep -c "^$marker" "$dir/serial.log" 2>/dev/null || true)
		[ "${n:-0}" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "demo-qemu: the guest did not boot in 60 s" >&2; exit 1
}

say "1. QEMU (TCG) boots Debian's cloud kernel: 512 MiB, RAM in $ram"
start=$(date +%s.%N)
qemu-system-x86_64 -accel tcg -m 512M -machine pc,memory-backend=ram0 \
	-object "memory-backend-file,id=ram0,size=512M,mem-path=$ram,share=on" \
	-kernel "$B/qemu/vmlinuz" -initrd "$B/qemu/initrd.gz" \
	-append "console=ttyS0 nokaslr panic=-1" -display none -monitor none \
	-serial "file:$dir/serial.log" \
	-qmp "unix:$dir/helper.qmp,server=on,wait=off" \
	-qmp "unix:$dir/demo.qmp,server=on,wait=off" 2>"$dir/qemu.err" &
pids+=($!)
wait_marker 1
echo "   booted in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-4) s: $(grep -a "Linux version" "$dir/serial.log" | head -1 | cut -c16-80)..."

say "2. vmsigd, and vmsig-memctx asking QEMU (QMP) for the layout and CR3"
"$B/sbin/vmsigd" -f --holder-socket "$dir/holder.sock" \
	--adapter-socket "$dir/adapter.sock" 2>"$dir/vmsigd.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$dir/adapter.sock" ] && break; sleep 0.1; done
"$B/bin/vmsigctl" --socket "$dir/holder.sock" watch --count 4 --timeout 60 \
	>"$dir/watch.out" 2>&1 &
watch=$!
"$B/sbin/vmsig-memctx" --endpoint 1 --ram "$ram" --qmp "$dir/helper.qmp" \
	--kcr3 qmp --connect "$dir/adapter.sock" 2>"$dir/memctx.log" &
pids+=($!)
for _ in $(seq 100); do grep -q . "$dir/watch.out" 2>/dev/null && break; sleep 0.1; done
sed 's/^/   holder sees: /' "$dir/watch.out"

say "3. A holder reads the kernel's banner: physical scan, then by virtual address"
hex=$(printf 'Linux version ' | od -An -tx1 | tr -d ' \n')
"$B/bin/vmsigctl" --socket "$dir/holder.sock" scan 1 "$hex" --physical --max 8 \
	>"$dir/scan.out" 2>&1 || true
sed 's/^/   scan: /' "$dir/scan.out"
# nokaslr: the kernel image is at 0xffffffff80000000 + its physical address.
pa=
for h in $(grep -o '^0x[0-9a-f]*' "$dir/scan.out"); do
	if ((h >= 0x1000000)); then pa=$h; break; fi
done
if [ -n "$pa" ]; then
	va=$(printf '0x%x' $((0xffffffff80000000 + pa)))
	echo "   the one at $pa, read by virtual address $va:"
	"$B/bin/vmsigctl" --socket "$dir/holder.sock" read 1 va "$va" 64 2>&1 |
	    sed 's/^/   /'
fi

say "4. system_reset: the epoch ends, the guest boots again, a new context"
qmp system_reset
wait_marker 2
for _ in $(seq 100); do [ "$(grep -c . "$dir/watch.out")" -ge 3 ] && break; sleep 0.1; done
sed -n '2,$p' "$dir/watch.out" | sed 's/^/   holder sees: /'

say "5. quit: QEMU leaves, the context is invalidated"
qmp quit
wait "$watch" || true
tail -n 1 "$dir/watch.out" | sed 's/^/   holder sees: /'
say "Done."
