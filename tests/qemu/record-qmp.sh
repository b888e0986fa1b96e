#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Record what a real QEMU answers on QMP, as test data for vmsig-memctx's
# QMP reader (tests/unit/test_mtree.c, test_qmp.c): the flat memory tree
# (`info mtree -f`), the machine's RAM backend (qom-get /machine
# memory-backend) and `info registers`, for pc and q35 with 512M and 4G of
# RAM in a memory-backend-file.  QEMU runs paused (-S) with TCG and no
# kernel: the memory tree is complete before the guest runs.  Each QEMU is
# ended by its pid and its RAM file removed; a 4G file in /dev/shm stays
# sparse because nothing touches it.
#
# usage: tests/qemu/record-qmp.sh [OUTDIR]	(default tests/data/qmp)
#
# Runs in: tests (by hand, on a host with qemu-system-x86_64 and python3)
set -eu

out=${1:-tests/data/qmp}
qemu=${QEMU:-qemu-system-x86_64}
shm=${SHM:-/dev/shm}
mkdir -p "$out"
tmp=$(mktemp -d)
qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	rm -f "$shm"/vmsig-record-$$.ram
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Send QMP commands (one JSON object per argument) after the greeting and
# qmp_capabilities; print each reply's "return" (HMP text raw, anything
# else as JSON), skipping events.
qmp() {
	python3 - "$tmp/qmp.sock" "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m
reply()
f.write(b'{"execute":"qmp_capabilities"}\n'); f.flush(); reply()
for cmd in sys.argv[2:]:
    f.write(cmd.encode() + b"\n"); f.flush()
    r = reply()
    if "error" in r:
        sys.exit("qmp: " + json.dumps(r["error"]))
    v = r["return"]
    hmp = "human-monitor-command" in cmd
    sys.stdout.write(v if hmp else json.dumps(v) + "\n")
PY
}

hmp() {
	printf '{"execute":"human-monitor-command","arguments":{"command-line":"%s"}}' "$1"
}

record() {	# machine size name
	ram=$shm/vmsig-record-$$.ram
	"$qemu" -machine "$1" -accel tcg -m "$2" \
	    -object memory-backend-file,id=ram0,size="$2",mem-path="$ram",share=on \
	    -machine memory-backend=ram0 -display none -nodefaults -S \
	    -qmp unix:"$tmp"/qmp.sock,server=on,wait=off &
	qpid=$!
	i=0
	while [ ! -S "$tmp"/qmp.sock ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	qmp "$(hmp 'info mtree -f')" > "$out/$3.mtree.txt"
	qmp '{"execute":"qom-get","arguments":{"path":"/machine","property":"memory-backend"}}' \
	    > "$out/$3.qom-memory-backend.json"
	qmp "$(hmp 'info registers')" > "$out/$3.registers.txt"
	kill "$qpid"
	wait "$qpid" 2>/dev/null || true
	qpid=
	rm -f "$ram" "$tmp"/qmp.sock
}

"$qemu" --version | sed -n 1p > "$out/VERSION"
record pc 512M pc-512M
record q35 4G q35-4G
record pc 4G pc-4G
record q35 512M q35-512M
