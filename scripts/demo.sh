#!/bin/bash
# SPDX-License-Identifier: MIT
# make demo: a synthetic Windows x64 guest, the real vmsigd and
# vmsig-memctx, and a holder watching: first context (epoch 1) and the
# guest's processes as a holder finds them (no symbols), a guest reboot, the
# old context invalidated and the new one (epoch 2, new kcr3, new processes).
set -euo pipefail
B=${B:-build}
base=/dev/shm
[ -w "$base" ] || base=${TMPDIR:-/tmp}
dir=$(mktemp -d "$base/vmsig-demo.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "1. A synthetic Windows 10 22H2 guest: 1 GiB of RAM split at 512 MiB, written sparsely"
"$B/guestgen" --out "$dir/guest.ram" --manifest "$dir/guest.json" \
	--size 1G --low 512M --seed 42 --windows 19045
kcr3=$(sed -n 's/.*"kcr3":"\(0x[0-9a-f]*\)".*/\1/p' "$dir/guest.json")
echo "   $dir/guest.ram: $(du -h "$dir/guest.ram" | cut -f1) on disk, kernel page-table root $kcr3"

say "2. vmsigd (unprivileged core) and vmsig-memctx (the helper) start"
# vmsigd admits only root unless told, and gives no context to the RAM
# file's owner: admit whoever runs the demo (and owns its guest image).
"$B/sbin/vmsigd" -f --holder-socket "$dir/holder.sock" \
	--adapter-socket "$dir/adapter.sock" --allow-holder "uid:$(id -u)" \
	--allow-adapter "uid:$(id -u)" --deliver-to-owner 2>"$dir/vmsigd.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$dir/adapter.sock" ] && break; sleep 0.1; done
"$B/bin/vmsigctl" --socket "$dir/holder.sock" watch --count 3 --timeout 30 \
	>"$dir/watch.out" 2>&1 &
watch=$!
"$B/sbin/vmsig-memctx" --endpoint 1 --ram "$dir/guest.ram" --low 512M \
	--connect "$dir/adapter.sock" --revalidate-ms 200 2>"$dir/memctx.log" &
pids+=($!)
for _ in $(seq 50); do grep -q . "$dir/watch.out" 2>/dev/null && break; sleep 0.1; done
sed 's/^/   holder sees: /' "$dir/watch.out"
grep -h "kcr3\|sandbox\|landlock" "$dir/memctx.log" | sed 's/^/   /' || true
m=${pids[1]}
echo "   helper confinement: $(grep -E '^(NoNewPrivs|Seccomp):' /proc/$m/status | tr '\n\t' '  ')"

ctl() { "$B/bin/vmsigctl" --socket "$dir/holder.sock" "$@"; }
say "3. A holder lists the guest's processes (vmsigctl ps 1)"
ctl ps 1 | sed 's/^/   /'

say "4. The guest reboots: new page tables, new kcr3, same RAM file"
"$B/guestgen" --reboot "$dir/guest.ram" --manifest "$dir/guest.json"
kcr3=$(sed -n 's/.*"kcr3":"\(0x[0-9a-f]*\)".*/\1/p' "$dir/guest.json")
echo "   new kernel page-table root $kcr3"
wait "$watch"
sed -n '2,$p' "$dir/watch.out" | sed 's/^/   holder sees: /'
echo "   vmsigctl ps 1, new epoch:"
ctl ps 1 | sed 's/^/   /'

say "5. vmsigd's view"
ctl status | sed 's/^/   /'

say "Done: one context per guest session, epochs stamped by the core; stopping."
