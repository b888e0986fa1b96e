# SPDX-License-Identifier: MIT
"""vmsig.Holder: a connection to vmsigd, its events, leases and writes.

A holder subscribes to endpoints (guests) and pulls events.  The library
underneath keeps, per endpoint, the read-only memory context of the current
epoch; :meth:`Holder.mem` hands it out as a :class:`vmsig.Memory` bound to
that epoch.  The tracker changes only while :meth:`Holder.next` delivers an
event, so every object made from a holder compares the holder's event
generation with its own before it touches C memory: when an event has
arrived since, it asks the tracker again and raises
:class:`vmsig.StaleError` if its epoch has ended.

Runs in: holder
"""

import collections
import ctypes
import dataclasses
import errno as _errno
import os
import time
import weakref

from . import _lib
from .errors import Error, Fault, StaleError, check

EVENT_TYPES = {1: "MEMCTX", 2: "MEMCTX_INVALIDATED", 3: "MEMWRITTEN",
               4: "LEASE_LOST", 5: "ENDPOINT_GONE"}
EVENT_NUMBERS = {v: k for k, v in EVENT_TYPES.items()}
LEASE_REASONS = {1: "expired", 2: "epoch", 3: "released",
                 4: "endpoint_gone"}

#: One guest-physical window of a MEMCTX locator and its RAM-file offset.
Segment = collections.namedtuple("Segment", "gpa len file_off")


def _ms(seconds):
    """Seconds (float or None) to the library's milliseconds (< 0: none)."""
    if seconds is None:
        return -1
    if seconds < 0:
        raise ValueError("timeout must be >= 0 or None")
    return min(int(seconds * 1000), 0x7fffffff)


def _hex(v):
    return "0x%x" % v


class Event:
    """One event from vmsigd.

    Always present: ``type`` (the name: "MEMCTX", "MEMCTX_INVALIDATED",
    "MEMWRITTEN", "LEASE_LOST", "ENDPOINT_GONE" or "UNKNOWN"), ``type_id``
    (the wire number), ``endpoint``, ``epoch`` (the VM session it belongs
    to), ``seq`` (per-endpoint sequence number) and ``source``.

    MEMCTX adds ``kcr3``, ``low``, ``flags`` and ``segments`` (a list of
    :data:`Segment`; empty when the layout is given by ``low`` alone).
    MEMWRITTEN adds ``gpa``, ``len`` and ``writer`` (peer id).
    LEASE_LOST adds ``lease_id`` and ``reason`` ("expired", "epoch",
    "released", "endpoint_gone").  Other attributes are None.

    An Event is plain data: it owns no descriptor (the library's context
    tracker keeps the MEMCTX descriptor; use :meth:`Holder.mem`).
    """

    __slots__ = ("type", "type_id", "endpoint", "epoch", "seq", "source",
                 "kcr3", "low", "flags", "segments", "gpa", "len", "writer",
                 "lease_id", "reason")

    def __init__(self, type_id, endpoint, epoch, seq, source=1, **extra):
        self.type_id = type_id
        self.type = EVENT_TYPES.get(type_id, "UNKNOWN")
        self.endpoint = endpoint
        self.epoch = epoch
        self.seq = seq
        self.source = source
        for k in ("kcr3", "low", "flags", "segments", "gpa", "len",
                  "writer", "lease_id", "reason"):
            setattr(self, k, extra.pop(k, None))
        if extra:
            raise TypeError("unknown Event fields: %s" % ", ".join(extra))

    @classmethod
    def _from_c(cls, ev):
        t = ev.type
        base = (t, ev.endpoint, ev.epoch, ev.seq, ev.source)
        raw = ctypes.addressof(ev) + _lib.VmsigEvent.inln.offset
        if t == 1:
            mc = _lib.VmsigMemctx.from_address(raw)
            segs = []
            n = mc.nseg
            if n and ev.payload_data and \
                    ev.payload_len // ctypes.sizeof(_lib.VmsigMemseg) >= n:
                arr = (_lib.VmsigMemseg * n).from_address(ev.payload_data)
                segs = [Segment(s.gpa, s.len, s.file_off) for s in arr]
            return cls(*base, kcr3=mc.kcr3, low=mc.low, flags=mc.flags,
                       segments=segs)
        if t == 3:
            w = _lib.VmsigMemwritten.from_address(raw)
            return cls(*base, gpa=w.gpa, len=w.len, writer=w.writer)
        if t == 4:
            ll = _lib.VmsigLeaseLost.from_address(raw)
            return cls(*base, lease_id=ll.lease_id,
                       reason=LEASE_REASONS.get(ll.reason, "unknown"))
        return cls(*base)

    def to_dict(self):
        """The event as ``vmsigctl watch --json`` prints it."""
        d = {"type": self.type, "endpoint": self.endpoint,
             "epoch": self.epoch, "seq": self.seq}
        if self.type_id == 1:
            d.update(kcr3=_hex(self.kcr3), low=_hex(self.low),
                     flags=self.flags,
                     segs=[[_hex(s.gpa), _hex(s.len), _hex(s.file_off)]
                           for s in self.segments])
        elif self.type_id == 3:
            d.update(gpa=_hex(self.gpa), len=_hex(self.len),
                     writer=self.writer)
        elif self.type_id == 4:
            d.update(lease_id=self.lease_id, reason=self.reason)
        return d

    def __repr__(self):
        extra = ""
        if self.type_id == 1:
            extra = " kcr3=0x%x low=0x%x flags=0x%x segments=%d" % (
                self.kcr3, self.low, self.flags, len(self.segments))
        elif self.type_id == 3:
            extra = " gpa=0x%x len=0x%x writer=%d" % (self.gpa, self.len,
                                                      self.writer)
        elif self.type_id == 4:
            extra = " lease_id=%d reason=%s" % (self.lease_id, self.reason)
        return "<Event %s endpoint=%d epoch=%d seq=%d%s>" % (
            self.type, self.endpoint, self.epoch, self.seq, extra)


@dataclasses.dataclass
class EndpointStatus:
    """One endpoint in :meth:`Holder.status`."""
    endpoint: int
    epoch: int
    has_context: bool
    kcr3: int
    low: int
    flags: int
    segments: list
    method: str
    adapter_peer: int
    adapter_pid: int
    lease_id: int
    lease_peer: int
    lease_expires_ms: int
    events: int
    invalidations: int
    name: str = ""      # the helper's --name; "" if unnamed

    def to_dict(self):
        """As one element of ``vmsigctl status --json``'s "endpoints"."""
        return {"endpoint": self.endpoint, "epoch": self.epoch,
                "has_context": self.has_context, "kcr3": _hex(self.kcr3),
                "low": _hex(self.low), "flags": self.flags,
                "segs": [[_hex(s.gpa), _hex(s.len), _hex(s.file_off)]
                         for s in self.segments],
                "method": self.method, "adapter_peer": self.adapter_peer,
                "adapter_pid": self.adapter_pid, "lease_id": self.lease_id,
                "lease_peer": self.lease_peer,
                "lease_expires_ms": self.lease_expires_ms,
                "events": self.events, "invalidations": self.invalidations,
                "name": self.name}


@dataclasses.dataclass
class PeerStatus:
    """One connected peer (holder or adapter) in :meth:`Holder.status`."""
    peer_id: int
    role: str           # "holder", "adapter" or "unknown"
    name: str
    pid: int
    uid: int
    gid: int
    endpoint: int
    subscribed: bool
    queued: int
    sent: int
    rule: str = ""      # the policy entry that admitted it

    def to_dict(self):
        """As one element of ``vmsigctl status --json``'s "peers"."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Status:
    """vmsigd's status: the daemon, its endpoints and its peers."""
    pid: int
    uid: int
    uptime_ms: int
    protocol_errors: int
    slow_holders: int
    refused_fds: int
    endpoints: list
    peers: list

    def to_dict(self):
        """The object ``vmsigctl status --json`` prints."""
        return {"pid": self.pid, "uid": self.uid,
                "uptime_ms": self.uptime_ms,
                "protocol_errors": self.protocol_errors,
                "slow_holders": self.slow_holders,
                "refused_fds": self.refused_fds,
                "endpoints": [e.to_dict() for e in self.endpoints],
                "peers": [p.to_dict() for p in self.peers]}


def _status_from_c(st):
    eps, peers = [], []
    for i in range(st.nendpoints):
        e = st.endpoints[i]
        segs = []
        if e.ctx.nseg and e.segs:
            segs = [Segment(e.segs[j].gpa, e.segs[j].len,
                            e.segs[j].file_off) for j in range(e.ctx.nseg)]
        eps.append(EndpointStatus(
            e.endpoint, e.epoch, bool(e.has_context), e.ctx.kcr3, e.ctx.low,
            e.ctx.flags, segs, e.method.decode("utf-8", "replace"),
            e.adapter_peer, e.adapter_pid, e.lease_id, e.lease_peer,
            e.lease_expires_ms, e.events, e.invalidations,
            e.name.decode("utf-8", "replace")))
    for i in range(st.npeers):
        p = st.peers[i]
        role = {1: "holder", 2: "adapter"}.get(p.role, "unknown")
        peers.append(PeerStatus(p.peer_id, role,
                                p.name.decode("utf-8", "replace"), p.pid,
                                p.uid, p.gid, p.endpoint, bool(p.subscribed),
                                p.queued, p.sent,
                                p.rule.decode("utf-8", "replace")))
    return Status(st.pid, st.uid, st.uptime_ms, st.protocol_errors,
                  st.slow_holders, st.refused_fds, eps, peers)


class Lease:
    """The MEMWRITE lease of one endpoint (from :meth:`Holder.lease`).

    Use it as a context manager: the lease is released when the block
    ends, whatever happens in it.  ``id``, ``endpoint`` and ``expires_ms``
    (vmsigd's CLOCK_MONOTONIC milliseconds, the same clock as
    ``time.monotonic()*1000`` on this host) describe it.  The daemon ends
    it on its own when its time runs out or the epoch changes (a
    LEASE_LOST event); writes under it then fail with EPERM or ESTALE.
    """

    def __init__(self, holder, endpoint, lease_id, expires_ms):
        self.holder = holder
        self.endpoint = endpoint
        self.id = lease_id
        self.expires_ms = expires_ms
        self.released = False

    def renew(self, ttl_ms):
        """Extend the lease to ttl_ms (1..60000) from now; returns the new
        expiry.  Raises Error(ENOENT) when it has ended already."""
        h = self.holder._handle("lease renew")
        exp = _lib.c_u64()
        r = self.holder._lib.vmsig_holder_lease_renew(
            h, self.id, ttl_ms, self.holder._tmo, ctypes.byref(exp))
        self.holder._check(r, "lease renew")
        self.expires_ms = exp.value
        return exp.value

    def release(self):
        """Give the lease back.  Releasing twice, or a lease that has ended
        already, or one whose holder is closed, is not an error."""
        if self.released:
            return
        self.released = True
        if self.holder._h is None:
            return
        r = self.holder._lib.vmsig_holder_lease_release(
            self.holder._h, self.id, self.holder._tmo)
        if r < 0 and r != -_errno.ENOENT:
            self.holder._check(r, "lease release")

    def write_pa(self, gpa, data):
        """Holder.write_pa under this lease."""
        return self.holder.write_pa(self.endpoint, self, gpa, data)

    def write_va(self, cr3, va, data):
        """Holder.write_va under this lease."""
        return self.holder.write_va(self.endpoint, self, cr3, va, data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def __repr__(self):
        return "<Lease %d endpoint=%d expires_ms=%d%s>" % (
            self.id, self.endpoint, self.expires_ms,
            " released" if self.released else "")


def _event_mask(events):
    if events is None:
        return 0
    if isinstance(events, (str, int)):
        events = [events]
    mask = 0
    for e in events:
        t = EVENT_NUMBERS.get(e.upper()) if isinstance(e, str) else int(e)
        if t is None or not 1 <= t <= 31:
            raise ValueError("unknown event type %r" % (e,))
        mask |= 1 << t
    return mask


def _cbuf(data):
    """(pointer argument, length) for a read-only bytes-like object."""
    if isinstance(data, bytes):
        return data, len(data)
    mv = memoryview(data)
    if not mv.readonly and mv.contiguous and mv.nbytes:
        # byref keeps the exported buffer alive for the call.
        return ctypes.byref(ctypes.c_char.from_buffer(mv)), mv.nbytes
    b = mv.tobytes()
    return b, len(b)


class Holder:
    """A connection to vmsigd as a holder.

    ``Holder(socket=None, name=None, timeout=5.0)`` connects to the holder
    socket (None: $VMSIG_SOCKET, else /run/vmsig/holder.sock), names this
    holder for the daemon's status (None: the program's name) and uses
    ``timeout`` seconds as the limit of every request's round trip.

    Use it as a context manager, or call :meth:`close`; a Holder that is
    garbage-collected closes too.  Typical use::

        with vmsig.Holder() as h:
            h.subscribe()
            for ev in h.events(timeout=10):
                print(ev)
                if ev.type == "MEMCTX":
                    mem = h.mem(ev.endpoint)       # valid for ev.epoch
                    print(mem.read_pa(0x1000, 16))

    :meth:`fileno` is the descriptor to watch with select/selectors/asyncio
    (``loop.add_reader(h.fileno(), ...)``); call :meth:`next` with
    ``timeout=0`` while it is readable or :attr:`pending` is non-zero.

    A Holder and everything made from it is not thread-safe: use one per
    thread or serialise calls.  Errors raise :class:`vmsig.Error` (errno
    and the daemon's message).
    """

    def __init__(self, socket=None, name=None, timeout=5.0):
        self._h = None
        self._gen = 0
        # Per endpoint: the locator of the last MEMCTX (epoch, low, segs)
        # and the live Memory object of the current epoch (weakly held).
        self._locs = {}
        self._mems = weakref.WeakValueDictionary()
        self._live = weakref.WeakSet()      # every Memory made here
        self._lib = _lib.get()
        if socket is None:
            socket = os.environ.get("VMSIG_SOCKET")
        self.socket = socket
        self.timeout = timeout
        self._tmo = _ms(timeout)
        h = _lib.c_void_p()
        r = self._lib.vmsig_holder_open(
            os.fsencode(socket) if socket is not None else None,
            name.encode() if name is not None else None, self._tmo,
            ctypes.byref(h))
        if r < 0:
            msg = self._lib.vmsig_holder_error(None) or b""
            raise Error(-r, msg.decode("utf-8", "replace"),
                        "connect to %s" % (socket or "/run/vmsig/holder.sock"))
        self._h = h.value

    # -- life cycle -----------------------------------------------------
    def close(self):
        """Close the connection and every context of it.  Memory and
        Windows objects made from this holder raise StaleError from now
        on.  Closing twice is harmless."""
        h, self._h = self._h, None
        self._gen += 1
        for m in list(self._live):
            m._drop_fast()
        self._mems.clear()
        if h is not None:
            self._lib.vmsig_holder_close(h)

    @property
    def closed(self):
        """True once :meth:`close` has run."""
        return self._h is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            self.close()

    def __repr__(self):
        if self._h is None:
            return "<vmsig.Holder closed>"
        return "<vmsig.Holder peer %d on %s>" % (
            self.peer_id, self.socket or "/run/vmsig/holder.sock")

    def _handle(self, op):
        if self._h is None:
            raise StaleError("the holder is closed", op)
        return self._h

    def _check(self, r, op):
        if r >= 0:
            return r
        msg = ""
        if self._h is not None:
            msg = (self._lib.vmsig_holder_error(self._h) or b"").decode(
                "utf-8", "replace")
        return check(r, op, msg)

    # -- connection -----------------------------------------------------
    def fileno(self):
        """The connection's descriptor, to poll for readability (owned by
        the holder: do not close it)."""
        return self._lib.vmsig_holder_fd(self._handle("fileno"))

    @property
    def pending(self):
        """Events already received and queued for :meth:`next`; the
        descriptor does not poll readable for these."""
        return self._lib.vmsig_holder_pending(self._handle("pending"))

    @property
    def peer_id(self):
        """This connection's peer id, as the daemon's status shows it."""
        return self._lib.vmsig_holder_peer_id(self._handle("peer_id"))

    def subscribe(self, endpoints=None, events=None):
        """Subscribe to ``endpoints`` (an iterable of endpoint numbers, or
        one number; None: every endpoint, now and later) and to ``events``
        (names such as "MEMCTX" or numbers; None: all).  The daemon then
        replays the current context of every matching endpoint as MEMCTX
        events.  Raises Error (e.g. EPERM with the rule that refused)."""
        h = self._handle("subscribe")
        if endpoints is None:
            eps = []
        elif isinstance(endpoints, int):
            eps = [endpoints]
        else:
            eps = [int(e) for e in endpoints]
        arr = (_lib.c_u32 * max(len(eps), 1))(*eps)
        r = self._lib.vmsig_holder_subscribe(h, arr, len(eps),
                                             _event_mask(events), self._tmo)
        self._check(r, "subscribe")

    def unsubscribe(self):
        """Stop receiving events."""
        r = self._lib.vmsig_holder_unsubscribe(self._handle("unsubscribe"),
                                               self._tmo)
        self._check(r, "unsubscribe")

    def next(self, timeout=None):
        """The next event, or None when ``timeout`` seconds pass without
        one (None: wait as long as it takes; 0: do not wait).

        Before a MEMCTX or MEMCTX_INVALIDATED event is returned the
        holder's contexts already reflect it: :meth:`mem` gives the new
        epoch's context, and objects of the ended epoch raise StaleError.
        Raises Error(EPIPE) when the daemon closed the connection.
        """
        h = self._handle("next")
        lib = self._lib
        evp = ctypes.POINTER(_lib.VmsigEvent)()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Wait in slices so that signals (Ctrl-C) are seen.
            if deadline is None:
                ms = 250
            else:
                ms = max(0, min(250, int((deadline - time.monotonic())
                                         * 1000 + 0.999)))
            r = lib.vmsig_holder_next(h, ms, ctypes.byref(evp))
            if r > 0:
                break
            if r < 0:
                self._check(r, "next event")
            if deadline is not None and time.monotonic() >= deadline:
                return None
        try:
            ev = Event._from_c(evp.contents)
        finally:
            lib.vmsig_event_free(evp)
        self._changed(ev.endpoint if ev.type_id in (1, 2, 5) else None)
        if ev.type_id in (1, 2, 5):
            if ev.type_id == 1:
                self._locs[ev.endpoint] = (ev.epoch, ev.low, ev.segments)
            else:
                self._locs.pop(ev.endpoint, None)
        return ev

    def _changed(self, endpoint=None):
        """The tracker may have changed: every Memory forgets its
        Python-side translations; those of ``endpoint`` (whose context was
        dropped or replaced) also release their mapping and descriptor."""
        self._gen += 1
        for m in list(self._live):
            if m.endpoint == endpoint:
                m._drop_fast()
            else:
                m._forget()
        if endpoint is not None:
            self._mems.pop(endpoint, None)

    def events(self, timeout=None):
        """Iterate over events as they come; the iteration ends when
        ``timeout`` seconds (None: never) pass without an event."""
        while True:
            ev = self.next(timeout)
            if ev is None:
                return
            yield ev

    def status(self):
        """The daemon's status as a :class:`Status` (plain dataclasses;
        ``.to_dict()`` gives vmsigctl's JSON shape)."""
        h = self._handle("status")
        stp = ctypes.POINTER(_lib.VmsigStatus)()
        self._check(self._lib.vmsig_holder_status(h, self._tmo,
                                                  ctypes.byref(stp)),
                    "status")
        try:
            return _status_from_c(stp.contents)
        finally:
            self._lib.vmsig_status_free(stp)

    def endpoint_find(self, name):
        """The number of the endpoint whose helper gave it ``name``
        (vmsig-memctx --name), with one Status request.  Raises Error
        (ENOENT) when no endpoint has that name now."""
        h = self._handle("endpoint_find")
        ep = _lib.c_u32()
        r = self._lib.vmsig_holder_endpoint_find(
            h, name.encode("utf-8"), self._tmo, ctypes.byref(ep))
        if r == -_errno.ENOENT:
            raise Error(_errno.ENOENT, "endpoint %r is not known to vmsigd "
                        "(see vmsigctl status)" % name, "endpoint_find")
        self._check(r, "endpoint_find %s" % name)
        return ep.value

    # -- contexts -------------------------------------------------------
    def mem(self, endpoint):
        """The :class:`vmsig.Memory` of ``endpoint``'s current epoch, or
        None when there is none (no MEMCTX delivered yet, or invalidated
        and not renewed).  It stays usable until its epoch ends.
        ``endpoint`` may be a name (a str): it is resolved first with
        :meth:`endpoint_find`, one Status request per call."""
        from .memory import Memory
        if isinstance(endpoint, str):
            endpoint = self.endpoint_find(endpoint)
        h = self._handle("mem")
        ep = _lib.c_u32()
        kcr3 = _lib.c_u64()
        p = self._lib.vmsig_holder_mem(h, endpoint, ctypes.byref(ep),
                                       ctypes.byref(kcr3))
        if not p:
            return None
        m = self._mems.get(endpoint)
        if m is not None and m.epoch == ep.value and m._gen != -1:
            return m
        loc = self._locs.get(endpoint)
        if loc is not None and loc[0] != ep.value:
            loc = None
        m = Memory(self, endpoint, ep.value, kcr3.value, p, loc)
        self._mems[endpoint] = m
        self._live.add(m)
        return m

    def win(self, endpoint):
        """The :class:`vmsig.Windows` context of ``endpoint``'s current
        epoch, or None when there is no memory context.  Raises Error when
        the guest does not look like Windows x64 (ENOENT, ENOEXEC, EFAULT)
        and NotImplementedError when the library predates the Windows
        context."""
        from .win import Windows
        return Windows._tracked(self, endpoint)

    # -- leases and writes -----------------------------------------------
    def lease(self, endpoint, ttl_ms=10000):
        """Acquire the MEMWRITE lease of ``endpoint`` for ``ttl_ms``
        (1..60000) milliseconds; returns a :class:`Lease`, a context
        manager that releases it.  Raises Error: EBUSY (another holder has
        it; the message names it), EPERM (the writers rule), ENOENT (no
        context now)."""
        h = self._handle("lease")
        lid, exp = _lib.c_u64(), _lib.c_u64()
        r = self._lib.vmsig_holder_lease_acquire(
            h, endpoint, ttl_ms, self._tmo, ctypes.byref(lid),
            ctypes.byref(exp))
        self._check(r, "lease endpoint %d" % endpoint)
        return Lease(self, endpoint, lid.value, exp.value)

    @staticmethod
    def _lease_id(lease):
        return lease.id if isinstance(lease, Lease) else int(lease)

    def write_pa(self, endpoint, lease, gpa, data):
        """Write ``data`` (bytes-like) into guest RAM at guest-physical
        ``gpa`` under ``lease`` (a Lease or its id).  Returns the number of
        bytes written.  Raises Fault (address and bytes written before it)
        for bytes outside RAM, StaleError when the epoch ended, Error
        otherwise (EPERM not our lease, EROFS helper not writable)."""
        h = self._handle("write_pa")
        ptr, n = _cbuf(data)
        done = _lib.c_size()
        self._changed()     # Memory objects drop their translations
        r = self._lib.vmsig_holder_write_pa(h, endpoint,
                                            self._lease_id(lease), gpa, ptr,
                                            n, self._tmo, ctypes.byref(done))
        if r == -_errno.EFAULT:
            raise Fault(gpa + done.value, done.value, "write_pa")
        self._check(r, "write_pa")
        return done.value

    def write_va(self, endpoint, lease, cr3, va, data):
        """As :meth:`write_pa` at virtual address ``va`` under page-table
        root ``cr3`` (None: the endpoint's kcr3); each page is translated
        through this holder's own read-only context just before its bytes
        are written."""
        h = self._handle("write_va")
        if cr3 is None:
            m = self.mem(endpoint)
            if m is None:
                raise StaleError("endpoint %d has no context" % endpoint,
                                 "write_va")
            cr3 = m.kcr3
        ptr, n = _cbuf(data)
        done = _lib.c_size()
        self._changed()     # Memory objects drop their translations
        r = self._lib.vmsig_holder_write_va(h, endpoint,
                                            self._lease_id(lease), cr3, va,
                                            ptr, n, self._tmo,
                                            ctypes.byref(done))
        if r == -_errno.EFAULT:
            raise Fault(va + done.value, done.value, "write_va")
        self._check(r, "write_va")
        return done.value
