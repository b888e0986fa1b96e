# SPDX-License-Identifier: MIT
"""vmsig.Memory: one epoch's read-only view of a guest's RAM.

Reads by guest-physical address, x86-64 translation and reads by (cr3,
virtual address), the page map and byte-pattern scans, over the context
the library's tracker keeps for one endpoint.  A Memory is bound to the
epoch it was made in: every call first makes sure the tracker still holds a
context of that epoch (the check costs one integer comparison unless an
event arrived since the last call) and raises :class:`vmsig.StaleError`
otherwise, so a context that ended is never touched.

Runs in: holder
"""

import collections
import ctypes
import errno as _errno
import mmap
import os

from . import _lib
from .errors import Error, Fault, StaleError, check

PAGE_WRITABLE = 0x1
PAGE_USER = 0x2
PAGE_NX = 0x4

_SCRATCH = 4096
# Python-side translations: per address space a dict {va >> 12: file
# offset of the page}, at most _XC_PAGES pages in at most _XC_SPACES spaces
# (then they are dropped and learnt again).
_XC_PAGES = 1 << 16
_XC_SPACES = 8
# The window's cr3 when there is none: identical to no cr3 a caller has.
_NOWIN = object()


class Translation(collections.namedtuple("Translation",
                                         "gpa page_size flags")):
    """Where a virtual address lives: ``gpa``, ``page_size`` (0x1000,
    0x200000 or 0x40000000) and ``flags`` (PAGE_WRITABLE | PAGE_USER |
    PAGE_NX); also as the properties writable, user, nx."""
    __slots__ = ()
    writable = property(lambda s: bool(s.flags & PAGE_WRITABLE))
    user = property(lambda s: bool(s.flags & PAGE_USER))
    nx = property(lambda s: bool(s.flags & PAGE_NX))


class MapRange(collections.namedtuple("MapRange",
                                      "va size gpa page_size flags")):
    """One run of mapped virtual addresses (from :meth:`Memory.pmap`):
    ``va``, ``size`` bytes, ``gpa`` of va, ``page_size`` and ``flags``
    of every page in it; also writable, user, nx."""
    __slots__ = ()
    writable = property(lambda s: bool(s.flags & PAGE_WRITABLE))
    user = property(lambda s: bool(s.flags & PAGE_USER))
    nx = property(lambda s: bool(s.flags & PAGE_NX))


def parse_pattern(pattern, mask=None):
    """(pattern bytes, mask bytes or None) from ``pattern``: bytes-like,
    or text of hex bytes where "??" is a wildcard ("4d 5a ?? 00").
    ``mask``: bytes of the same length, 0x00 = wildcard."""
    if isinstance(pattern, str):
        toks = pattern.replace(",", " ").split()
        if len(toks) == 1 and len(toks[0]) > 2:
            t = toks[0]
            toks = [t[i:i + 2] for i in range(0, len(t), 2)]
        pat = bytearray()
        msk = bytearray()
        for t in toks:
            if t in ("??", "?"):
                pat.append(0)
                msk.append(0)
            else:
                pat.append(int(t, 16))
                msk.append(0xff)
        if mask is None and 0 in msk:
            mask = bytes(msk)
        pattern = bytes(pat)
    else:
        pattern = bytes(pattern)
    if mask is not None:
        mask = bytes(mask)
        if len(mask) != len(pattern):
            raise ValueError("mask and pattern differ in length")
    if not 1 <= len(pattern) <= 4096:
        raise ValueError("pattern must be 1..4096 bytes")
    return pattern, mask


def _wbuf(buffer):
    """(ctypes reference to the first byte, size) of a writable buffer,
    without copying it.  The reference keeps the buffer exported (and a
    bytearray unresizable) while it lives."""
    mv = memoryview(buffer)
    if mv.readonly:
        raise TypeError("buffer is read-only")
    if not mv.contiguous:
        raise TypeError("buffer is not contiguous")
    n = mv.nbytes
    if n == 0:
        return None, 0
    return ctypes.byref(ctypes.c_char.from_buffer(mv)), n


class Memory:
    """The read-only memory context of one endpoint in one epoch.

    Made by :meth:`vmsig.Holder.mem`.  Attributes: ``endpoint``, ``epoch``,
    ``kcr3`` (the kernel's page-table root of this epoch), ``size``
    (guest-physical bytes covered).  Wherever a method takes ``cr3``,
    None means ``kcr3``.

    Reads return bytes; the ``readinto_*`` variants fill a caller's
    writable buffer (bytearray, memoryview, array, mmap, numpy array) in
    place with no copy beyond that one.  Unreadable bytes raise
    :class:`vmsig.Fault` with the failing address and the bytes done.
    After the epoch ends every method raises :class:`vmsig.StaleError`.
    Not thread-safe.
    """

    __slots__ = ("holder", "endpoint", "epoch", "kcr3", "_gen", "_m",
                 "_lib", "_scratch", "_saddr", "_smv", "_done", "_doneref",
                 "_read_va", "_read_pa", "_loc", "_xc", "_xk", "_mm",
                 "_msize", "_x", "_wc", "_wv", "_wl", "_wf", "__weakref__")

    def __init__(self, holder, endpoint, epoch, kcr3, ptr, loc=None):
        self.holder = holder
        self.endpoint = endpoint
        self.epoch = epoch
        self.kcr3 = kcr3
        self._gen = holder._gen
        self._m = ptr
        self._lib = holder._lib
        self._scratch = ctypes.create_string_buffer(_SCRATCH)
        self._saddr = ctypes.addressof(self._scratch)
        self._smv = memoryview(self._scratch).cast("B")
        self._done = _lib.c_size()
        self._doneref = ctypes.byref(self._done)
        self._read_va = self._lib.vmsig_mem_read_va
        self._read_pa = self._lib.vmsig_mem_read_pa
        self._loc = loc         # (epoch, low, segments) of the MEMCTX
        self._xc = {}           # cr3 -> {va >> 12: file offset of page}
        self._xk = None         # the dict of kcr3 (cr3 None)
        # The window: the last large page learned, as virtual
        # [_wv, _wv + _wl) under cr3 _wc, at file offset _wf.
        self._wc, self._wv, self._wl, self._wf = _NOWIN, 0, 0, 0
        self._mm = None         # PROT_READ mapping for the shortcut
        self._msize = 0
        self._x = _lib.VmsigXlat()

    def __del__(self):
        self._drop_fast()

    def _forget(self):
        """Forget the Python-side translations (an event arrived)."""
        self._xc = {}
        self._xk = None
        self._wc = _NOWIN

    def _drop_fast(self):
        """Forget the Python-side translations; unmap and close the
        shortcut's mapping (the tracker dropped the context)."""
        self._xc = {}
        self._xk = None
        self._wc = _NOWIN
        mm, self._mm = getattr(self, "_mm", None), None
        if mm is not None:
            mm.close()

    # -- validity ---------------------------------------------------------
    def _revalidate(self, op="use"):
        """The context pointer after an event: the tracker's, if it is
        still of our epoch; else StaleError (for good)."""
        h = self.holder
        self._forget()
        if self._m is None:
            raise StaleError("epoch %d of endpoint %d has ended"
                             % (self.epoch, self.endpoint), op)
        if h._h is None:
            self._m, self._gen = None, -1
            self._drop_fast()
            raise StaleError("the holder is closed", op)
        ep = _lib.c_u32()
        p = self._lib.vmsig_holder_mem(h._h, self.endpoint, ctypes.byref(ep),
                                       None)
        if not p or ep.value != self.epoch:
            self._m, self._gen = None, -1
            self._drop_fast()
            raise StaleError("epoch %d of endpoint %d has ended"
                             % (self.epoch, self.endpoint), op)
        self._m, self._gen = p, h._gen
        return p

    def _ptr(self, op):
        if self.holder._gen == self._gen:
            return self._m
        return self._revalidate(op)

    @property
    def valid(self):
        """True while the epoch lasts (never raises)."""
        try:
            self._ptr("valid")
            return True
        except StaleError:
            return False

    @property
    def size(self):
        """Guest-physical bytes the locator covers."""
        return self._lib.vmsig_mem_size(self._ptr("size"))

    @property
    def fd(self):
        """The context's read-only RAM-file descriptor (borrowed: valid
        while the epoch lasts; dup it, e.g. via mmap, to keep it)."""
        return check(self._lib.vmsig_mem_fd(self._ptr("fd")), "fd")

    def __repr__(self):
        state = "" if self.valid else " (ended)"
        return "<vmsig.Memory endpoint=%d epoch=%d kcr3=0x%x%s>" % (
            self.endpoint, self.epoch, self.kcr3, state)

    # -- physical ---------------------------------------------------------
    def read_pa(self, gpa, n):
        """``n`` bytes at guest-physical ``gpa`` (may cross segments).
        Raises Fault at the first byte that is not RAM."""
        m = self._m if self.holder._gen == self._gen else \
            self._revalidate("read_pa")
        if n < 0:
            raise ValueError("negative length")
        if n <= _SCRATCH:
            r = self._read_pa(m, gpa, self._saddr, n, self._doneref)
            if r == 0:
                return self._smv[:n].tobytes()
        else:
            buf = bytearray(n)
            r = self._read_pa(m, gpa, ctypes.byref(
                ctypes.c_char.from_buffer(buf)), n, self._doneref)
            if r == 0:
                return bytes(buf)
        return self._fail(r, gpa, "read_pa")

    def readinto_pa(self, gpa, buffer):
        """Fill ``buffer`` (writable, contiguous) from guest-physical
        ``gpa``; returns its size.  On Fault, ``done`` bytes were
        filled."""
        m = self._ptr("readinto_pa")
        ref, n = _wbuf(buffer)
        if n == 0:
            return 0
        r = self._read_pa(m, gpa, ref, n, self._doneref)
        if r == 0:
            return n
        return self._fail(r, gpa, "readinto_pa")

    # -- virtual ----------------------------------------------------------
    def read_va(self, cr3, va, n):
        """``n`` bytes at virtual ``va`` under ``cr3`` (None: kcr3),
        across page and segment boundaries.  Raises Fault at the first
        page that does not translate or is not RAM, Error(EINVAL) for a
        non-canonical address."""
        # The shortcut: the window and _xc are emptied by every event and
        # write of the holder, so a page found here was translated in this
        # epoch since the last change the tracker could have seen.
        if cr3 is self._wc:
            o = va - self._wv
            if 0 <= o <= o + n <= self._wl:
                o += self._wf
                return self._mm[o:o + n]
        d = self._xk if cr3 is None else self._xc.get(cr3)
        if d is not None:
            off = d.get(va >> 12)
            if off is not None:
                o = va & 0xfff
                if 0 <= n <= 4096 - o:
                    off += o
                    return self._mm[off:off + n]
        m = self._m if self.holder._gen == self._gen else \
            self._revalidate("read_va")
        key = cr3
        if cr3 is None:
            cr3 = self.kcr3
        if n <= _SCRATCH:
            if n < 0:
                raise ValueError("negative length")
            r = self._read_va(m, cr3, va, self._saddr, n, self._doneref)
            if r == 0:
                if self._loc is not None and (va & 0xfff) + n <= 4096:
                    self._learn(m, key, cr3, va)
                return self._smv[:n].tobytes()
        else:
            buf = bytearray(n)
            r = self._read_va(m, cr3, va, ctypes.byref(
                ctypes.c_char.from_buffer(buf)), n, self._doneref)
            if r == 0:
                return bytes(buf)
        return self._fail(r, va, "read_va")

    def _locate(self, gpa):
        """File offset of the 4 KiB guest-physical page at gpa when all of
        it is in one segment of the file, else None."""
        _, low, segs = self._loc
        if segs:
            for s in segs:
                if s.gpa <= gpa and gpa + 4096 <= s.gpa + s.len:
                    off = s.file_off + gpa - s.gpa
                    break
            else:
                return None
        elif gpa + 4096 <= min(low, self._msize):
            off = gpa
        elif gpa >= 1 << 32 and gpa - (1 << 32) + 4096 <= self._msize - low:
            off = low + gpa - (1 << 32)
        else:
            return None
        return off if off + 4096 <= self._msize else None

    def _window(self, key, va, gpa, ps):
        """Make the large page of va (at gpa, ps bytes) the window, as far
        as it lies in one segment of the file."""
        glo = gpa & ~(ps - 1)
        _, low, segs = self._loc
        if not segs:
            segs = [(0, min(low, self._msize), 0)]
            if self._msize > low:
                segs.append((1 << 32, self._msize - low, low))
        for sg, sl, sf in segs:
            if sg <= gpa < sg + sl:
                lo = max(glo, sg)
                hi = min(glo + ps, sg + sl, sg + self._msize - sf)
                if hi <= lo:
                    return
                self._wv = (va & ~(ps - 1)) + (lo - glo)
                self._wl = hi - lo
                self._wf = sf + (lo - sg)
                self._wc = key
                return

    def _learn(self, m, key, cr3, va):
        """Remember where the page of va (just read by the library) lives
        in the file, for the read_va shortcut."""
        x = self._x
        if self._lib.vmsig_mem_translate(m, cr3, va, ctypes.byref(x)) != 0:
            return
        if self._mm is None:
            try:
                fd = self._lib.vmsig_mem_fd(m)
                self._msize = os.fstat(fd).st_size
                self._mm = mmap.mmap(fd, self._msize, mmap.MAP_SHARED,
                                     mmap.PROT_READ)
            except (OSError, ValueError):
                self._loc = None        # no shortcut for this context
                return
        off = self._locate(x.gpa - (va & 0xfff))
        if off is None or not 0 <= va < 1 << 64:
            return
        d = self._xc.get(cr3)
        if d is None or len(d) >= _XC_PAGES:
            if len(self._xc) >= _XC_SPACES or d is not None:
                self._forget()
            d = self._xc[cr3] = {}
            if cr3 == self.kcr3:
                self._xk = d
        d[va >> 12] = off
        if x.page_size > 4096:
            self._window(key, va, x.gpa, x.page_size)

    def readinto_va(self, cr3, va, buffer):
        """Fill ``buffer`` (writable, contiguous: bytearray, memoryview,
        array, mmap, ...) from virtual ``va`` under ``cr3`` (None: kcr3)
        in place, with no intermediate copy; returns its size.  On Fault,
        ``done`` bytes were filled."""
        m = self._m if self.holder._gen == self._gen else \
            self._revalidate("readinto_va")
        if cr3 is None:
            cr3 = self.kcr3
        ref, n = _wbuf(buffer)
        if n == 0:
            return 0
        r = self._read_va(m, cr3, va, ref, n, self._doneref)
        if r == 0:
            return n
        return self._fail(r, va, "readinto_va")

    def _fail(self, r, addr, op):
        done = self._done.value
        if r == -_errno.EFAULT:
            raise Fault(addr + done, done, op)
        raise Error(-r, "", op)

    def translate(self, cr3, va):
        """The :class:`Translation` of virtual ``va`` under ``cr3`` (None:
        kcr3).  Raises Fault when an entry on the way is not present,
        Error(EINVAL) for a non-canonical address."""
        m = self._ptr("translate")
        x = _lib.VmsigXlat()
        r = self._lib.vmsig_mem_translate(m, self.kcr3 if cr3 is None
                                          else cr3, va, ctypes.byref(x))
        if r == -_errno.EFAULT:
            raise Fault(va, 0, "translate")
        check(r, "translate")
        return Translation(x.gpa, x.page_size, x.flags)

    # -- walks -------------------------------------------------------------
    def pmap(self, cr3=None, start=0, end=0):
        """Iterate over the mapped runs (:class:`MapRange`) of the address
        space ``cr3`` (None: kcr3) in ascending virtual order within
        [start, end) (end 0: to the top).  Walks in chunks: an epoch that
        ends mid-iteration raises StaleError at the next chunk."""
        if cr3 is None:
            cr3 = self.kcr3
        chunk = 512
        lo = start
        while True:
            got = []

            def cb(_arg, rp):
                r = rp.contents
                got.append(MapRange(r.va, r.size, r.gpa, r.page_size,
                                    r.flags))
                return 1 if len(got) >= chunk else 0

            fn = _lib.MAP_FN(cb)
            r = self._lib.vmsig_mem_pmap(self._ptr("pmap"), cr3, lo, end, fn,
                                         None)
            check(r, "pmap")
            yield from got
            if r == 0 or not got:
                return
            last = got[-1]
            lo = last.va + last.size
            if lo >= 1 << 64 or (end and lo >= end):
                return

    def _scan(self, op, call, start, end):
        chunk = 4096
        lo = start
        while True:
            got = []

            def cb(_arg, addr):
                got.append(addr)
                return 1 if len(got) >= chunk else 0

            fn = _lib.SCAN_FN(cb)
            r = call(self._ptr(op), lo, end, fn)
            check(r, op)
            yield from got
            if len(got) < chunk:
                return
            lo = got[-1] + 1
            if lo >= 1 << 64 or (end and lo >= end):
                return

    def scan_va(self, cr3, pattern, start=0, end=0, mask=None):
        """Iterate over the virtual addresses in the mapped pages of
        [start, end) (end 0: to the top) under ``cr3`` (None: kcr3) where
        ``pattern`` occurs (matches spanning pages included).
        ``pattern``: bytes, or hex text with "??" wildcards; ``mask``:
        bytes, 0x00 = wildcard."""
        pat, msk = parse_pattern(pattern, mask)
        if cr3 is None:
            cr3 = self.kcr3
        scan = self._lib.vmsig_mem_scan_va
        return self._scan("scan_va", lambda m, lo, hi, fn: scan(
            m, cr3, lo, hi, pat, msk, len(pat), fn, None), start, end)

    def scan_pa(self, pattern, start=0, end=0, mask=None):
        """Iterate over the guest-physical addresses in [start, end) (end
        0: to the end) where ``pattern`` occurs; holes of the RAM file are
        skipped (never read).  Pattern and mask as :meth:`scan_va`."""
        pat, msk = parse_pattern(pattern, mask)
        scan = self._lib.vmsig_mem_scan_pa
        return self._scan("scan_pa", lambda m, lo, hi, fn: scan(
            m, lo, hi, pat, msk, len(pat), fn, None), start, end)

    # -- translation cache -------------------------------------------------
    def flush(self, cr3=None, va=None, length=None, gpa=None):
        """Drop cached translations: all of them (no argument), one
        address space (cr3), the pages of [va, va+length) under cr3, or
        every translation that may depend on guest-physical
        [gpa, gpa+length).  Events of this holder (MEMWRITTEN) flush on
        their own; call this after the guest changed its page tables."""
        m = self._ptr("flush")
        self._forget()
        lib = self._lib
        if gpa is not None:
            lib.vmsig_mem_flush_gpa(m, gpa, length or 1)
        elif va is not None:
            lib.vmsig_mem_flush_va(m, self.kcr3 if cr3 is None else cr3, va,
                                   length or 1)
        elif cr3 is not None:
            lib.vmsig_mem_flush_cr3(m, cr3)
        else:
            lib.vmsig_mem_flush(m)
