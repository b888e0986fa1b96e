#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Dump one module of one process of a Windows guest to a file: the image
as mapped in memory, [base, base + SizeOfImage), with the pages that
cannot be read (paged out, never touched) written as zeros.

    dump_module.py [--socket PATH] [--endpoint N] [--timeout SECONDS]
                   (--pid PID | --name PROCESS) MODULE OUTPUT

    dump_module.py --name explorer.exe ntdll.dll /tmp/ntdll.bin
    dump_module.py --pid 4 ntoskrnl.exe /tmp/ntoskrnl.bin

Prints what it wrote and which pages were unreadable.  Exit status 0 when
the file is written, 1 otherwise.

Runs in: holder (an example of the vmsig package)
"""

import argparse
import os
import sys
import time

try:
    import vmsig
except ImportError:     # run from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), ".."))
    import vmsig


def windows(h, endpoint, timeout):
    """The endpoint's Windows context, waiting for its memory context."""
    h.subscribe([endpoint], ["MEMCTX", "MEMCTX_INVALIDATED"])
    deadline = time.monotonic() + timeout
    while h.mem(endpoint) is None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SystemExit("endpoint %d: no memory context within %g s"
                             % (endpoint, timeout))
        h.next(timeout=left)
    return h.win(endpoint)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket")
    ap.add_argument("--endpoint", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0)
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--pid", type=int)
    who.add_argument("--name")
    ap.add_argument("module")
    ap.add_argument("output")
    a = ap.parse_args(argv)
    with vmsig.Holder(a.socket, "dump_module") as h:
        w = windows(h, a.endpoint, a.timeout)
        proc = w.process(pid=a.pid, name=a.name)
        mod = proc.module(a.module)
        tmp = a.output + ".part"
        with open(tmp, "wb") as f:
            _, holes = mod.dump(f)
        os.replace(tmp, a.output)
    print("%s: %s of pid %d (%s), 0x%x bytes from 0x%x, epoch %d"
          % (a.output, mod.name, proc.pid, proc.name, mod.size, mod.base,
             w.epoch))
    if holes:
        print("%d unreadable pages written as zeros: %s" % (
            len(holes), " ".join("0x%x" % v for v in holes[:16]) +
            (" ..." if len(holes) > 16 else "")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except vmsig.Error as e:
        print("dump_module: %s" % e, file=sys.stderr)
        sys.exit(1)
