#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Watch the processes of a Windows guest appear and disappear, within an
epoch (polling) and across epochs (a reboot: the list of the new session
against the last list of the old one).

    proc_watch.py [--socket PATH] [--endpoint N] [--interval SECONDS]
                  [--epochs N] [--timeout SECONDS]

Prints one line per change, flushed at once:

    epoch 1 endpoint 1: 14 processes
    + 4 System
    ...
    epoch 1 ended
    epoch 2 endpoint 1: 13 processes
    - 1104 explorer.exe
    + 1200 explorer.exe

A process is known by (pid, image name): EPROCESS addresses mean nothing
across epochs.  Stops after --epochs epochs (0: never) or --timeout
seconds (exit status 1).

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


def snapshot(h, endpoint):
    """{(pid, name): Process} of the current epoch, or None when there is
    no Windows context (no memory context, or not Windows)."""
    try:
        w = h.win(endpoint)
        if w is None:
            return None, None
        return w, {(p.pid, p.name): p for p in w.processes()}
    except vmsig.StaleError:
        return None, None
    except vmsig.Error as e:
        print("endpoint %d: no Windows context: %s" % (endpoint, e),
              flush=True)
        return None, None


def diff(old, new):
    """Print '- pid name' for every process gone, '+ pid name' for every
    process new, in pid order."""
    for k in sorted(set(old) - set(new)):
        print("- %d %s" % k)
    for k in sorted(set(new) - set(old)):
        print("+ %d %s" % k)
    sys.stdout.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket")
    ap.add_argument("--endpoint", type=int, default=1)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--timeout", type=float)
    a = ap.parse_args(argv)
    deadline = None if a.timeout is None else time.monotonic() + a.timeout
    last = {}           # the last list seen, in any epoch
    seen = set()        # epochs listed
    with vmsig.Holder(a.socket, "proc_watch") as h:
        h.subscribe([a.endpoint], ["MEMCTX", "MEMCTX_INVALIDATED",
                                   "ENDPOINT_GONE"])
        w = None
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                print("timed out", file=sys.stderr)
                return 1
            ev = h.next(timeout=a.interval)
            if ev is not None and ev.type != "MEMCTX":
                if ev.type == "MEMCTX_INVALIDATED":
                    print("epoch %d ended" % (ev.epoch - 1), flush=True)
                else:
                    print("endpoint %d gone" % ev.endpoint, flush=True)
                w = None
                continue
            if w is None or not w.valid:
                w, procs = snapshot(h, a.endpoint)
                if w is None or w.epoch in seen:
                    continue
                seen.add(w.epoch)
                print("epoch %d endpoint %d: %d processes"
                      % (w.epoch, a.endpoint, len(procs)))
            else:
                try:
                    procs = {(p.pid, p.name): p for p in w.processes()}
                except vmsig.StaleError:
                    w = None
                    continue
            diff(last, procs)
            last = procs
            if a.epochs and len(seen) >= a.epochs and ev is None:
                return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except vmsig.Error as e:
        print("proc_watch: %s" % e, file=sys.stderr)
        sys.exit(1)
