# SPDX-License-Identifier: MIT
"""vmsig.Windows: processes, modules and PE images of a Windows x64 guest.

Read-only discovery over one epoch's memory context, with no symbols and
no profile (include/vmsig/win.h): the library finds ntoskrnl, its
structure offsets and the process list in the guest image itself.  Like
:class:`vmsig.Memory`, a Windows object and the Process and Module objects
made from it belong to one epoch and raise :class:`vmsig.StaleError` once
it has ended.  Process and Module are snapshots (plain data) plus methods
that read the guest again when called.

Everything read from the guest is untrusted: names are decoded with
replacement characters, listings are bounded, and an item that could not
be read carries its error (``err``, ``fault_va``) instead of failing the
listing.

Runs in: holder
"""

import collections
import ctypes
import errno as _errno
import os

from . import _lib
from .errors import Error, Fault, StaleError, check
from .memory import Translation, parse_pattern, _wbuf

PROC_EXITED = 0x1
PROC_WOW64 = 0x2
PROC_NAME_TRUNC = 0x4


def _s(b):
    return None if b is None else b.decode("utf-8", "replace")


def _hex(v):
    return "0x%x" % v


def _err_dict(err, fault_va):
    """"error" (strerror text or None) and "fault_va" (EFAULT only)."""
    if err == 0:
        return {"error": None, "fault_va": None}
    return {"error": os.strerror(-err),
            "fault_va": _hex(fault_va) if err == -_errno.EFAULT else None}


Export = collections.namedtuple("Export", "name forward va ordinal")
Export.__doc__ = """One export: ``name`` (None: by ordinal only),
``forward`` ("DLL.Name" of a forwarder, else None), ``va`` (0 for a
forwarder), ``ordinal`` (biased)."""

Import = collections.namedtuple("Import", "module name ordinal iat")
Import.__doc__ = """One imported function: ``module`` (the DLL), ``name``
(None: by ordinal), ``ordinal`` (with name None; else the hint), ``iat``
(VA of its IAT slot)."""

Section = collections.namedtuple("Section", "name characteristics va size")
Section.__doc__ = """One section header: ``name``, ``characteristics``,
``va`` (base + VirtualAddress), ``size`` (VirtualSize)."""

WinInfo = collections.namedtuple(
    "WinInfo", "build build_raw kcr3 kernel_base kernel_size "
    "system_eprocess ps_active_process_head ps_loaded_module_list")
WinInfo.__doc__ = "What the Windows context found about the kernel."

Offset = collections.namedtuple("Offset", "name offset how")
Offset.__doc__ = """One structure offset found in the image (offset -1:
not found) and how it was found."""


class Listing(list):
    """A list of snapshots with ``status`` (0: complete; else the negative
    errno of why the walk ended early: -ELOOP, -EBADMSG, -EFAULT, -E2BIG)
    and ``fault_va`` (where it ended)."""

    def __init__(self, items, status=0, fault_va=0):
        super().__init__(items)
        self.status = status
        self.fault_va = fault_va

    @property
    def complete(self):
        """True when the whole list was read."""
        return self.status == 0


class Windows:
    """The Windows context of one endpoint in one epoch.

    Made by :meth:`vmsig.Holder.win`.  Attributes: ``endpoint``, ``epoch``,
    ``info`` (:data:`WinInfo`: build, kernel base, ...).  Methods:
    :meth:`processes`, :meth:`process`, :meth:`offsets`.  Not
    thread-safe; raises StaleError after the epoch ends.
    """

    def __init__(self, holder, endpoint, epoch, ptr):
        self.holder = holder
        self.endpoint = endpoint
        self.epoch = epoch
        self._lib = holder._lib
        self._w = ptr
        self._gen = holder._gen
        self._scratch = ctypes.create_string_buffer(4096)
        self._saddr = ctypes.addressof(self._scratch)
        self._smv = memoryview(self._scratch).cast("B")
        self._done = _lib.c_size()

    @classmethod
    def _get(cls, holder, endpoint, op):
        lib = holder._lib
        if not lib.has_win:
            raise NotImplementedError(
                "%s has no Windows context (vmsig_holder_win)" % lib.path)
        h = holder._handle(op)
        ep = _lib.c_u32()
        err = _lib.c_int()
        p = lib.vmsig_holder_win(h, endpoint, ctypes.byref(ep),
                                 ctypes.byref(err))
        if p:
            return p, ep.value
        # -ENOENT is both "no context this epoch" and "no ntoskrnl found":
        # the memory context tells them apart.
        if not lib.vmsig_holder_mem(h, endpoint, None, None):
            return None, 0
        what = {_errno.ENOENT: "no ntoskrnl image in the kernel half",
                _errno.ENOEXEC: "the kernel's structures do not validate "
                "(not Windows x64, or an unsupported build)",
                _errno.EFAULT: "a page discovery needs is not present"}
        raise Error(-err.value, what.get(-err.value, "endpoint %d"
                                         % endpoint),
                    "open the Windows context of endpoint %d" % endpoint)

    @classmethod
    def _tracked(cls, holder, endpoint):
        p, epoch = cls._get(holder, endpoint, "win")
        if not p:
            return None
        return cls(holder, endpoint, epoch, p)

    def _ptr(self, op):
        h = self.holder
        if h._gen == self._gen:
            return self._w
        if self._w is None:
            raise StaleError("epoch %d of endpoint %d has ended"
                             % (self.epoch, self.endpoint), op)
        if h._h is None:
            self._w, self._gen = None, -1
            raise StaleError("the holder is closed", op)
        try:
            p, epoch = self._get(h, self.endpoint, op)
        except Error:
            p, epoch = None, 0
        if not p or epoch != self.epoch:
            self._w, self._gen = None, -1
            raise StaleError("epoch %d of endpoint %d has ended"
                             % (self.epoch, self.endpoint), op)
        self._w, self._gen = p, h._gen
        return p

    @property
    def valid(self):
        """True while the epoch lasts (never raises)."""
        try:
            self._ptr("valid")
            return True
        except StaleError:
            return False

    @property
    def info(self):
        """:data:`WinInfo` of the kernel this context found."""
        i = _lib.VmsigWinInfo()
        check(self._lib.vmsig_win_info(self._ptr("info"), ctypes.byref(i)),
              "info")
        return WinInfo(i.build, i.build_raw, i.kcr3, i.kernel_base,
                       i.kernel_size, i.system_eprocess,
                       i.ps_active_process_head, i.ps_loaded_module_list)

    def offsets(self):
        """Every structure offset the context uses, as :data:`Offset`."""
        out = []
        o = _lib.VmsigWinOffset()
        for idx in range(4096):
            r = self._lib.vmsig_win_offset(self._ptr("offsets"), idx,
                                           ctypes.byref(o))
            if r == -_errno.ENOENT:
                break
            check(r, "offsets")
            out.append(Offset(_s(o.name), o.offset, _s(o.how)))
        return out

    def _procs(self, pp):
        try:
            pl = pp.contents
            items = [Process._from_c(self, pl.v[i]) for i in range(pl.n)]
            return Listing(items, pl.status, pl.fault_va)
        finally:
            self._lib.vmsig_win_procs_free(pp)

    def processes(self):
        """Snapshot of the process list (ring order, System first) as a
        :class:`Listing` of :class:`Process`."""
        pp = ctypes.POINTER(_lib.VmsigWinProcs)()
        check(self._lib.vmsig_win_proc_list(self._ptr("processes"),
                                            ctypes.byref(pp)), "processes")
        return self._procs(pp)

    def process(self, pid=None, name=None):
        """The process with ``pid`` and/or image ``name`` (case-insensitive,
        against the image path's last component and ImageFileName).  With
        several matches, the first in ring order.  Raises Error(ENOENT)
        when there is none."""
        if pid is None and name is None:
            raise ValueError("give pid or name")
        pp = ctypes.POINTER(_lib.VmsigWinProcs)()
        r = self._lib.vmsig_win_proc_find(
            self._ptr("process"), pid or 0,
            name.encode() if name is not None else None, ctypes.byref(pp))
        what = " ".join(x for x in (
            "pid %d" % pid if pid is not None else "",
            "name %r" % name if name is not None else "") if x)
        check(r, "find process", "no process with " + what
              if r == -_errno.ENOENT else "")
        return self._procs(pp)[0]

    def __repr__(self):
        return "<vmsig.Windows endpoint=%d epoch=%d%s>" % (
            self.endpoint, self.epoch, "" if self.valid else " (ended)")


def _scan_iter(win, op, call):
    """Run one scan call collecting hits (bounded: 1,000,000)."""
    got = []

    def cb(_arg, addr):
        got.append(addr)
        return 1 if len(got) >= 1000000 else 0

    fn = _lib.SCAN_FN(cb)
    check(call(win._ptr(op), fn), op)
    return iter(got)


class Process:
    """One Windows process (a snapshot) and reads in its address space.

    Attributes: ``pid``, ``ppid``, ``name`` (ImageFileName, at most 15
    bytes), ``path`` (full image path or None), ``eprocess``, ``dtb``
    (page-table root to use with :class:`vmsig.Memory`), ``user_dtb``,
    ``peb``, ``flags``, ``exited``, ``wow64``, ``err`` and ``fault_va``
    (what could not be read about it, 0 if nothing).
    """

    __slots__ = ("win", "pid", "ppid", "name", "path", "eprocess", "dtb",
                 "user_dtb", "peb", "flags", "err", "fault_va")

    @classmethod
    def _from_c(cls, win, p):
        self = cls.__new__(cls)
        self.win = win
        self.pid, self.ppid = p.pid, p.ppid
        self.name = _s(p.name)
        self.path = _s(p.path)
        self.eprocess, self.dtb, self.user_dtb = p.eprocess, p.dtb, p.user_dtb
        self.peb, self.flags = p.peb, p.flags
        self.err, self.fault_va = p.err, p.fault_va
        return self

    exited = property(lambda s: bool(s.flags & PROC_EXITED))
    wow64 = property(lambda s: bool(s.flags & PROC_WOW64))

    def to_dict(self):
        """Plain data, as one element of ``vmsigctl ps --json``."""
        d = {"pid": self.pid, "ppid": self.ppid, "name": self.name,
             "path": self.path, "eprocess": _hex(self.eprocess),
             "dtb": _hex(self.dtb), "user_dtb": _hex(self.user_dtb),
             "peb": _hex(self.peb), "exited": self.exited,
             "wow64": self.wow64,
             "name_truncated": bool(self.flags & PROC_NAME_TRUNC)}
        d.update(_err_dict(self.err, self.fault_va))
        return d

    def __repr__(self):
        return "<vmsig.Process %d %s>" % (self.pid, self.name)

    def modules(self):
        """Its loaded modules (:class:`Module`, load order, the executable
        first; for pid 4 the kernel's drivers, ntoskrnl first) as a
        :class:`Listing`.  Raises Error: ENODATA (no PEB), EFAULT (PEB or
        loader data not present), ENOENT (the process is gone)."""
        w = self.win
        mp = ctypes.POINTER(_lib.VmsigWinModules)()
        r = w._lib.vmsig_win_mod_list(w._ptr("modules"), self.pid,
                                      ctypes.byref(mp))
        check(r, "modules of pid %d" % self.pid)
        try:
            ml = mp.contents
            items = [Module._from_c(self, ml.v[i]) for i in range(ml.n)]
            return Listing(items, ml.status, ml.fault_va)
        finally:
            w._lib.vmsig_win_modules_free(mp)

    def module(self, name):
        """The module whose name matches ``name`` (case-insensitive, with
        or without extension).  Raises Error(ENOENT) when there is none."""
        want = name.lower()
        mods = self.modules()
        for m in mods:
            n = (m.name or "").lower()
            if n == want or n.rsplit(".", 1)[0] == want:
                return m
        raise Error(_errno.ENOENT, "pid %d has no module %r"
                    % (self.pid, name), "module")

    def read(self, va, n):
        """``n`` bytes at ``va`` in this process's address space.  Raises
        Fault (address, bytes done) where it cannot be read."""
        w = self.win
        if n < 0:
            raise ValueError("negative length")
        wp = w._ptr("read")
        if n <= 4096:
            r = w._lib.vmsig_win_proc_read(wp, self.pid, va, w._saddr, n,
                                           ctypes.byref(w._done))
            if r == 0:
                return w._smv[:n].tobytes()
        else:
            buf = bytearray(n)
            r = w._lib.vmsig_win_proc_read(
                wp, self.pid, va, ctypes.byref(ctypes.c_char.from_buffer(
                    buf)), n, ctypes.byref(w._done))
            if r == 0:
                return bytes(buf)
        self._fail(r, va, "read")

    def readinto(self, va, buffer):
        """Fill ``buffer`` (writable) from ``va`` in place; returns its
        size."""
        w = self.win
        wp = w._ptr("readinto")
        ref, n = _wbuf(buffer)
        if n == 0:
            return 0
        r = w._lib.vmsig_win_proc_read(wp, self.pid, va, ref, n,
                                       ctypes.byref(w._done))
        if r == 0:
            return n
        self._fail(r, va, "readinto")

    def _fail(self, r, va, op):
        done = self.win._done.value
        if r == -_errno.EFAULT:
            raise Fault(va + done, done, op)
        check(r, op)

    def translate(self, va):
        """The :class:`vmsig.Translation` of ``va`` in this process."""
        w = self.win
        x = _lib.VmsigXlat()
        r = w._lib.vmsig_win_proc_translate(w._ptr("translate"), self.pid,
                                            va, ctypes.byref(x))
        if r == -_errno.EFAULT:
            raise Fault(va, 0, "translate")
        check(r, "translate")
        return Translation(x.gpa, x.page_size, x.flags)

    def scan(self, pattern, mask=None):
        """Iterate over the virtual addresses in the process's user half
        where ``pattern`` occurs (bytes, or hex text with "??")."""
        pat, msk = parse_pattern(pattern, mask)
        lib = self.win._lib
        return _scan_iter(self.win, "scan", lambda wp, fn:
                          lib.vmsig_win_scan_proc(wp, self.pid, pat, msk,
                                                  len(pat), fn, None))


class Module:
    """One loaded module of a process (a snapshot) and its PE image.

    Attributes: ``process``, ``name`` (BaseDllName or None), ``path``
    (FullDllName or None), ``base``, ``size``, ``entry``, ``err`` and
    ``fault_va``.  :meth:`exports`, :meth:`export`, :meth:`sections` and
    :meth:`imports` parse its PE headers in the guest each time they are
    called; :meth:`read` and :meth:`dump` read its bytes.
    """

    __slots__ = ("process", "name", "path", "base", "size", "entry", "err",
                 "fault_va")

    @classmethod
    def _from_c(cls, proc, m):
        self = cls.__new__(cls)
        self.process = proc
        self.name, self.path = _s(m.name), _s(m.path)
        self.base, self.size, self.entry = m.base, m.size, m.entry
        self.err, self.fault_va = m.err, m.fault_va
        return self

    def to_dict(self):
        """Plain data, as one element of ``vmsigctl modules --json``."""
        d = {"name": self.name, "path": self.path, "base": _hex(self.base),
             "size": _hex(self.size), "entry": _hex(self.entry)}
        d.update(_err_dict(self.err, self.fault_va))
        return d

    def __repr__(self):
        return "<vmsig.Module %s 0x%x+0x%x pid %d>" % (
            self.name, self.base, self.size, self.process.pid)

    def _pe(self, op):
        """Open the image (closed by the caller with _close)."""
        w = self.process.win
        wp = w._ptr(op)
        cr3 = _lib.c_u64()
        check(w._lib.vmsig_win_proc_dtb(wp, self.process.pid,
                                        ctypes.byref(cr3)), op)
        pe = _lib.c_void_p()
        check(w._lib.vmsig_win_pe_open(wp, cr3.value, self.base,
                                       ctypes.byref(pe)), op,
              "module %s at 0x%x" % (self.name, self.base))
        return w._lib, pe

    def info(self):
        """(base, size, entry, bits, nsections) from the PE headers."""
        lib, pe = self._pe("info")
        try:
            i = _lib.VmsigWinPeInfo()
            check(lib.vmsig_win_pe_info(pe, ctypes.byref(i)), "pe info")
            return (i.base, i.size, i.entry, i.bits, i.nsections)
        finally:
            lib.vmsig_win_pe_close(pe)

    def sections(self):
        """Its section headers as a list of :data:`Section`."""
        lib, pe = self._pe("sections")
        try:
            sp = ctypes.POINTER(_lib.VmsigWinSection)()
            n = check(lib.vmsig_win_pe_sections(pe, ctypes.byref(sp)),
                      "sections")
            try:
                return [Section(_s(sp[i].name), sp[i].characteristics,
                                sp[i].va, sp[i].size) for i in range(n)]
            finally:
                if sp:
                    _libc_free(sp)
        finally:
            lib.vmsig_win_pe_close(pe)

    def exports(self):
        """Every export (:data:`Export`, ordinal order)."""
        lib, pe = self._pe("exports")
        try:
            ep = ctypes.POINTER(_lib.VmsigWinExports)()
            check(lib.vmsig_win_pe_exports(pe, ctypes.byref(ep)), "exports")
            try:
                e = ep.contents
                return [Export(_s(x.name), _s(x.forward), x.va, x.ordinal)
                        for x in (e.v[i] for i in range(e.n))]
            finally:
                lib.vmsig_win_exports_free(ep)
        finally:
            lib.vmsig_win_pe_close(pe)

    def export(self, name):
        """One export by name (binary search in the guest).  Raises
        Error(ENOENT) when the module does not export it."""
        lib, pe = self._pe("export")
        try:
            x = _lib.VmsigWinExport()
            r = lib.vmsig_win_pe_export_find(pe, name.encode(),
                                             ctypes.byref(x))
            check(r, "export", "%s does not export %r" % (self.name, name)
                  if r == -_errno.ENOENT else "")
            return Export(_s(x.name), _s(x.forward), x.va, x.ordinal)
        finally:
            lib.vmsig_win_pe_close(pe)

    def imports(self):
        """Every import of its import directory (:data:`Import`), as a
        :class:`Listing` whose ``status`` is the negative errno of a
        descriptor that ended the table early (0: complete)."""
        lib, pe = self._pe("imports")
        try:
            ip = ctypes.POINTER(_lib.VmsigWinImports)()
            check(lib.vmsig_win_pe_imports(pe, ctypes.byref(ip)), "imports")
            try:
                m = ip.contents
                return Listing([Import(_s(x.module), _s(x.name), x.ordinal,
                                       x.iat)
                                for x in (m.v[i] for i in range(m.n))],
                               m.status)
            finally:
                lib.vmsig_win_imports_free(ip)
        finally:
            lib.vmsig_win_pe_close(pe)

    def read(self, offset=0, n=None):
        """``n`` bytes (None: to the end of the image) at ``offset`` from
        its base.  Raises Fault where a page is not present."""
        if n is None:
            n = max(0, self.size - offset)
        return self.process.read(self.base + offset, n)

    def dump(self, out=None):
        """The whole image, page by page, with pages that cannot be read
        as zeros.  Writes to ``out`` (a binary file object) when given.
        Returns (bytes or None, list of the VAs of unreadable pages)."""
        buf = bytearray(self.size)
        holes = []
        mv = memoryview(buf)
        off = 0
        page = 0x1000
        while off < self.size:
            n = min(page - (self.base + off) % page, self.size - off)
            try:
                self.process.readinto(self.base + off, mv[off:off + n])
            except Fault:
                holes.append(self.base + off)
            off += n
        mv.release()
        if out is not None:
            out.write(buf)
            return None, holes
        return bytes(buf), holes

    def scan(self, pattern, mask=None, section=None):
        """Iterate over the VAs in the image (or one ``section`` of it)
        where ``pattern`` occurs."""
        pat, msk = parse_pattern(pattern, mask)
        lib, pe = self._pe("scan")
        try:
            got = []

            def cb(_arg, addr):
                got.append(addr)
                return 1 if len(got) >= 1000000 else 0

            fn = _lib.SCAN_FN(cb)
            if section is None:
                r = lib.vmsig_win_pe_scan(pe, pat, msk, len(pat), fn, None)
            else:
                r = lib.vmsig_win_pe_scan_section(pe, section.encode(), pat,
                                                  msk, len(pat), fn, None)
            check(r, "scan")
            return iter(got)
        finally:
            lib.vmsig_win_pe_close(pe)


_free = None


def _libc_free(ptr):
    """free(3) of an array the library allocated (pe_sections)."""
    global _free
    if _free is None:
        libc = ctypes.CDLL(None)
        _free = libc.free
        _free.argtypes = [ctypes.c_void_p]
        _free.restype = None
    _free(ctypes.cast(ptr, ctypes.c_void_p))
