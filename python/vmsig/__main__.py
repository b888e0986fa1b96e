# SPDX-License-Identifier: MIT
"""python3 -m vmsig: the read-only commands of vmsigctl, from Python.

    python3 -m vmsig [--socket PATH] status [--json]
    python3 -m vmsig [--socket PATH] watch [--endpoint N]... [--count N]
                                           [--timeout SECONDS] [--json]
    python3 -m vmsig [--socket PATH] ps ENDPOINT [--json] [--timeout S]
    python3 -m vmsig [--socket PATH] modules ENDPOINT PID [--json]
                                             [--timeout S]

--json prints what ``vmsigctl`` prints, byte for byte: one object for
status, one object per line for watch, an array for ps and modules.  The
socket defaults to $VMSIG_SOCKET, else /run/vmsig/holder.sock.  Exit
status: 0 success, 1 failure (a message on stderr), 2 bad usage.

Runs in: holder
"""

import argparse
import os
import sys
import time

import vmsig

DEFAULT_SOCKET = "/run/vmsig/holder.sock"
WAIT_S = 10.0           # vmsigctl's default wait for a context


class Failure(Exception):
    """A failure already explained; exit status 1."""


def warn(msg):
    print("python3 -m vmsig: %s" % msg, file=sys.stderr)


# --- JSON as vmsigctl writes it ---------------------------------------------


def jstr(s):
    """A JSON string the way vmsigctl escapes it ("\\uXXXX" for controls)."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif c < 0x20 or c == 0x7f:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jval(v):
    """Compact JSON of plain data, keys in insertion order."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return jstr(v)
    if isinstance(v, dict):
        return "{" + ",".join(jstr(k) + ":" + jval(x)
                              for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(jval(x) for x in v) + "]"
    raise TypeError("cannot encode %r" % (v,))


def jlist(items):
    """An array with one element per line, as vmsigctl's listings."""
    if not items:
        return "[\n]"
    return "[\n" + ",\n".join(jval(x) for x in items) + "\n]"


def safe(s, none="-"):
    """A guest string for a terminal: controls become '?'."""
    if s is None:
        return none
    return "".join("?" if ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 else c
                   for c in s)


def table(head, rows, right=0):
    """Columns two spaces apart, the last one unpadded; those whose bit is
    set in ``right`` aligned right (numbers), the others left."""
    rows = [head] + rows
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]

    def cell(i, c):
        if right >> i & 1:
            return c.rjust(w[i])
        return c.ljust(w[i]) if i < len(head) - 1 else c
    return "\n".join("  ".join(cell(i, c) for i, c in enumerate(r)).rstrip()
                     for r in rows)


def item_err(what, err, fault_va):
    """The text note of an item that could not be read."""
    s = "! %s: %s" % (what, os.strerror(-err))
    return s + (" at 0x%x" % fault_va if err == -14 else "")


# --- commands ----------------------------------------------------------------


def connect(args):
    try:
        return vmsig.Holder(args.socket, "python3 -m vmsig")
    except vmsig.Error as e:
        warn("cannot reach vmsigd at %s: %s"
             % (args.socket or DEFAULT_SOCKET, e.strerror))
        raise Failure() from e


def cmd_status(args):
    with connect(args) as h:
        st = h.status()
    if args.json:
        print(jval(st.to_dict()))
        return 0
    print("vmsigd pid %d uid %d up %d.%03ds" % (
        st.pid, st.uid, st.uptime_ms // 1000, st.uptime_ms % 1000))
    print("counters: protocol_errors %d slow_holders %d refused_fds %d"
          % (st.protocol_errors, st.slow_holders, st.refused_fds))
    print("endpoints: %d" % len(st.endpoints))
    for e in st.endpoints:
        line = "  endpoint %d: epoch %d" % (e.endpoint, e.epoch)
        if e.has_context:
            layout = ("low 0x%x" % e.low if not e.segments else "segs " +
                      ",".join("0x%x+0x%x@0x%x" % s for s in e.segments))
            line += " kcr3 0x%x %s flags 0x%x method %s" % (
                e.kcr3, layout, e.flags, e.method or "-")
        else:
            line += " no context"
        line += (" adapter peer %d pid %d" % (e.adapter_peer, e.adapter_pid)
                 if e.adapter_peer else " no adapter")
        line += " events %d invalidations %d" % (e.events, e.invalidations)
        if e.lease_id:
            line += " lease %d peer %d expires %d" % (
                e.lease_id, e.lease_peer, e.lease_expires_ms)
        print(line)
    print("peers: %d" % len(st.peers))
    for p in st.peers:
        line = '  peer %d: %s "%s" pid %d uid %d gid %d' % (
            p.peer_id, p.role, safe(p.name), p.pid, p.uid, p.gid)
        line += (" endpoint %d" % p.endpoint if p.role == "adapter" else
                 " subscribed" if p.subscribed else " not subscribed")
        line += " queued %d sent %d" % (p.queued, p.sent)
        if p.rule:
            line += ' rule "%s"' % safe(p.rule)
        print(line)
    return 0


def event_text(ev):
    s = "%s endpoint %d epoch %d seq %d" % (ev.type, ev.endpoint, ev.epoch,
                                             ev.seq)
    if ev.type == "MEMCTX":
        layout = ("low 0x%x" % ev.low if not ev.segments else "segs " +
                  ",".join("0x%x+0x%x@0x%x" % x for x in ev.segments))
        s += " kcr3 0x%x %s flags 0x%x" % (ev.kcr3, layout, ev.flags)
    elif ev.type == "MEMWRITTEN":
        s += " gpa 0x%x len 0x%x writer %d" % (ev.gpa, ev.len, ev.writer)
    elif ev.type == "LEASE_LOST":
        s += " lease %d reason %s" % (ev.lease_id, ev.reason)
    return s


def cmd_watch(args):
    deadline = None if args.timeout is None else \
        time.monotonic() + args.timeout
    seen = 0
    with connect(args) as h:
        h.subscribe(args.endpoint or None)
        while args.count == 0 or seen < args.count:
            left = None if deadline is None else \
                max(0.0, deadline - time.monotonic())
            try:
                ev = h.next(left)
            except vmsig.Error as e:
                warn("watch: %s" % e)
                return 1
            if ev is None:
                warn("watch: timed out after %d ms with %d of %d events"
                     % (args.timeout * 1000, seen, args.count))
                return 1
            print(jval(ev.to_dict()) if args.json else event_text(ev),
                  flush=True)
            seen += 1
    return 0


def attach_win(h, args):
    """Subscribe to the endpoint, wait for its context, open Windows."""
    ep = args.endpoint
    h.subscribe([ep], ["MEMCTX", "MEMCTX_INVALIDATED"])
    deadline = time.monotonic() + args.timeout
    while h.mem(ep) is None:
        left = deadline - time.monotonic()
        if left <= 0 or (h.next(left) is None and h.mem(ep) is None):
            warn("endpoint %d: no memory context within %d ms (is "
                 "vmsig-memctx running for it? see python3 -m vmsig "
                 "status; or raise --timeout)" % (ep, args.timeout * 1000))
            raise Failure()
    try:
        return h.win(ep)
    except vmsig.Error as e:
        warn("endpoint %d: %s" % (ep, e))
        raise Failure() from e


def listing_warn(what, lst):
    if lst.status:
        warn("warning: %s ends early at 0x%x: %s; the entries shown were "
             "read before it" % (what, lst.fault_va,
                                 os.strerror(-lst.status)))


def cmd_ps(args):
    with connect(args) as h:
        w = attach_win(h, args)
        procs = w.processes()
        if args.json:
            print(jlist([p.to_dict() for p in procs]))
        else:
            print("endpoint %d epoch %d: %d processes"
                  % (w.endpoint, w.epoch, len(procs)))
            rows = []
            for p in procs:
                flags = ("X" if p.exited else "") + ("W" if p.wow64 else "")
                flags += "T" if p.flags & 0x4 else ""
                flags += "!" if p.err else ("" if flags else "-")
                rows.append([str(p.pid), str(p.ppid), safe(p.name), flags,
                             "0x%x" % p.eprocess, "0x%x" % p.dtb,
                             "0x%x" % p.user_dtb, "0x%x" % p.peb,
                             item_err("path", p.err, p.fault_va) if p.err
                             else safe(p.path)])
            print(table(["PID", "PPID", "NAME", "FLAGS", "EPROCESS", "DTB",
                         "USER_DTB", "PEB", "PATH"], rows, right=0x3))
        listing_warn("ps: endpoint %d: the process list" % args.endpoint,
                     procs)
    return 0


def cmd_modules(args):
    with connect(args) as h:
        w = attach_win(h, args)
        try:
            proc = w.process(pid=args.pid)
            mods = proc.modules()
        except vmsig.Error as e:
            warn("modules: endpoint %d: pid %d: %s"
                 % (args.endpoint, args.pid, e))
            return 1
        if args.json:
            print(jlist([m.to_dict() for m in mods]))
        else:
            print("endpoint %d epoch %d pid %d: %d modules"
                  % (w.endpoint, w.epoch, args.pid, len(mods)))
            print(table(["BASE", "SIZE", "ENTRY", "NAME", "PATH"], [
                ["0x%x" % m.base, "0x%x" % m.size, "0x%x" % m.entry,
                 safe(m.name), item_err("name", m.err, m.fault_va) if m.err
                 else safe(m.path)] for m in mods]))
        listing_warn("modules: endpoint %d: the module list of pid %d"
                     % (args.endpoint, args.pid), mods)
    return 0


def parser():
    p = argparse.ArgumentParser(
        prog="python3 -m vmsig",
        description="Read-only vmsigctl commands over the vmsig package.",
        epilog="The socket defaults to $VMSIG_SOCKET, else %s."
        % DEFAULT_SOCKET)
    p.add_argument("--socket", help="vmsigd's holder socket")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("status", help="endpoints, peers and counters")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_status)
    s = sub.add_parser("watch", help="print events as they arrive")
    s.add_argument("--endpoint", type=int, action="append")
    s.add_argument("--count", type=int, default=0)
    s.add_argument("--timeout", type=float)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_watch)
    s = sub.add_parser("ps", help="the processes of a Windows guest")
    s.add_argument("endpoint", type=int)
    s.add_argument("--json", action="store_true")
    s.add_argument("--timeout", type=float, default=WAIT_S)
    s.set_defaults(fn=cmd_ps)
    s = sub.add_parser("modules", help="a process's modules (pid 4: the "
                       "kernel's)")
    s.add_argument("endpoint", type=int)
    s.add_argument("pid", type=int)
    s.add_argument("--json", action="store_true")
    s.add_argument("--timeout", type=float, default=WAIT_S)
    s.set_defaults(fn=cmd_modules)
    return p


def main(argv=None):
    """Run the command line ``argv`` (default sys.argv[1:]); the exit
    status."""
    args = parser().parse_args(argv)
    if args.socket is None:
        args.socket = os.environ.get("VMSIG_SOCKET")
    try:
        return args.fn(args)
    except Failure:
        return 1
    except vmsig.Error as e:
        warn("%s: %s" % (args.command, e))
        return 1
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
