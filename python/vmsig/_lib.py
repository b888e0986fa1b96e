# SPDX-License-Identifier: MIT
"""Loading libvmsig-holder.so.0 and declaring its C interface for ctypes.

The structures below restate the layouts of include/vmsig/*.h; tests/python
checks them against the C compiler's sizeof/offsetof.  The library is
loaded on first use, so ``import vmsig`` and ``help(vmsig)`` work on a host
without it.

Where the library comes from, first match wins:
  1. the path in the environment variable VMSIG_LIBRARY;
  2. VMSIG_BUILD_DIR/libvmsig-holder.so.0 (the build tree, for tests);
  3. the dynamic linker's search ("libvmsig-holder.so.0", as installed by
     ``make install`` or the Debian package);
  4. the library next to this package's installation prefix
     (PREFIX/lib/python3/dist-packages/vmsig -> PREFIX/lib), for a prefix
     the linker cache does not know yet (ldconfig not run).

Runs in: holder
"""

import ctypes
import ctypes.util
import os
import threading

c_u8 = ctypes.c_uint8
c_u32 = ctypes.c_uint32
c_u64 = ctypes.c_uint64
c_i64 = ctypes.c_int64
c_int = ctypes.c_int
c_size = ctypes.c_size_t
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
POINTER = ctypes.POINTER

SONAME = "libvmsig-holder.so.0"

# --- include/vmsig/event.h, memctx.h -----------------------------------------


class VmsigEvent(ctypes.Structure):
    """struct vmsig_event."""
    _fields_ = [
        ("type", c_u32), ("endpoint", c_u32), ("source", c_u32),
        ("epoch", c_u32), ("seq", c_u64),
        ("inln", c_u64 * 6),            # 48 bytes, 8-byte aligned
        ("payload_data", c_void_p), ("payload_len", c_size),
        ("fd", c_int),
    ]


class VmsigMemctx(ctypes.Structure):
    """struct vmsig_memctx (the inline POD of MEMCTX)."""
    _fields_ = [("kcr3", c_u64), ("low", c_u64), ("epoch", c_u32),
                ("nseg", c_u32), ("flags", c_u32), ("_pad", c_u32)]


class VmsigMemseg(ctypes.Structure):
    """struct vmsig_memseg."""
    _fields_ = [("gpa", c_u64), ("len", c_u64), ("file_off", c_u64)]


class VmsigMemctxInv(ctypes.Structure):
    """struct vmsig_memctx_inv."""
    _fields_ = [("endpoint", c_u32), ("epoch", c_u32)]


class VmsigMemwritten(ctypes.Structure):
    """struct vmsig_memwritten."""
    _fields_ = [("gpa", c_u64), ("len", c_u64), ("writer", c_u32),
                ("_pad", c_u32)]


class VmsigLeaseLost(ctypes.Structure):
    """struct vmsig_lease_lost."""
    _fields_ = [("lease_id", c_u64), ("reason", c_u32), ("_pad", c_u32)]


# --- include/vmsig/holder.h ----------------------------------------------------


class VmsigStatusEndpoint(ctypes.Structure):
    """struct vmsig_status_endpoint."""
    _fields_ = [
        ("endpoint", c_u32), ("epoch", c_u32), ("has_context", c_int),
        ("adapter_peer", c_u32), ("adapter_pid", ctypes.c_int32),
        ("ctx", VmsigMemctx), ("segs", POINTER(VmsigMemseg)),
        ("method", ctypes.c_char * 65), ("lease_id", c_u64),
        ("lease_peer", c_u32), ("lease_expires_ms", c_u64),
        ("events", c_u64), ("invalidations", c_u64),
        ("name", ctypes.c_char * 65),   # added last: the struct only grows
    ]


class VmsigStatusPeer(ctypes.Structure):
    """struct vmsig_status_peer."""
    _fields_ = [
        ("peer_id", c_u32), ("role", c_u32), ("name", ctypes.c_char * 65),
        ("pid", ctypes.c_int32), ("uid", c_u32), ("gid", c_u32),
        ("endpoint", c_u32), ("subscribed", c_int), ("queued", c_u32),
        ("sent", c_u64), ("rule", ctypes.c_char * 97),
    ]


class VmsigStatus(ctypes.Structure):
    """struct vmsig_status."""
    _fields_ = [
        ("pid", ctypes.c_int32), ("uid", c_u32), ("uptime_ms", c_u64),
        ("protocol_errors", c_u64), ("slow_holders", c_u64),
        ("refused_fds", c_u64),
        ("nendpoints", c_size), ("endpoints", POINTER(VmsigStatusEndpoint)),
        ("npeers", c_size), ("peers", POINTER(VmsigStatusPeer)),
    ]


# --- include/vmsig/mem.h ---------------------------------------------------------


class VmsigXlat(ctypes.Structure):
    """struct vmsig_xlat."""
    _fields_ = [("gpa", c_u64), ("page_size", c_u64), ("flags", c_u32),
                ("_pad", c_u32)]


class VmsigMapRange(ctypes.Structure):
    """struct vmsig_map_range."""
    _fields_ = [("va", c_u64), ("size", c_u64), ("gpa", c_u64),
                ("page_size", c_u64), ("flags", c_u32), ("_pad", c_u32)]


MAP_FN = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(VmsigMapRange))
SCAN_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_u64)

# --- include/vmsig/win.h -----------------------------------------------------------


class VmsigWinInfo(ctypes.Structure):
    """struct vmsig_win_info."""
    _fields_ = [
        ("build", c_u32), ("build_raw", c_u32), ("kcr3", c_u64),
        ("kernel_base", c_u64), ("kernel_size", c_u64),
        ("system_eprocess", c_u64), ("ps_active_process_head", c_u64),
        ("ps_loaded_module_list", c_u64),
    ]


class VmsigWinOffset(ctypes.Structure):
    """struct vmsig_win_offset."""
    _fields_ = [("name", c_char_p), ("offset", ctypes.c_int32),
                ("_pad", c_u32), ("how", c_char_p)]


class VmsigWinProc(ctypes.Structure):
    """struct vmsig_win_proc."""
    _fields_ = [
        ("pid", c_u32), ("ppid", c_u32), ("name", ctypes.c_char * 16),
        ("path", c_char_p), ("eprocess", c_u64), ("dtb", c_u64),
        ("user_dtb", c_u64), ("peb", c_u64), ("flags", c_u32),
        ("err", c_int), ("fault_va", c_u64),
    ]


class VmsigWinProcs(ctypes.Structure):
    """struct vmsig_win_procs."""
    _fields_ = [("n", c_size), ("v", POINTER(VmsigWinProc)),
                ("status", c_int), ("fault_va", c_u64)]


class VmsigWinModule(ctypes.Structure):
    """struct vmsig_win_module."""
    _fields_ = [
        ("name", c_char_p), ("path", c_char_p), ("base", c_u64),
        ("size", c_u64), ("entry", c_u64), ("err", c_int), ("_pad", c_u32),
        ("fault_va", c_u64),
    ]


class VmsigWinModules(ctypes.Structure):
    """struct vmsig_win_modules."""
    _fields_ = [("n", c_size), ("v", POINTER(VmsigWinModule)),
                ("status", c_int), ("fault_va", c_u64)]


class VmsigWinPeInfo(ctypes.Structure):
    """struct vmsig_win_pe_info."""
    _fields_ = [("base", c_u64), ("size", c_u64), ("entry", c_u64),
                ("bits", c_u32), ("nsections", c_u32)]


class VmsigWinSection(ctypes.Structure):
    """struct vmsig_win_section."""
    _fields_ = [("name", ctypes.c_char * 9), ("_pad", c_u8 * 3),
                ("characteristics", c_u32), ("va", c_u64), ("size", c_u64)]


class VmsigWinExport(ctypes.Structure):
    """struct vmsig_win_export."""
    _fields_ = [("name", c_char_p), ("forward", c_char_p), ("va", c_u64),
                ("ordinal", c_u32), ("_pad", c_u32)]


class VmsigWinExports(ctypes.Structure):
    """struct vmsig_win_exports."""
    _fields_ = [("n", c_size), ("v", POINTER(VmsigWinExport)),
                ("dll_name", ctypes.c_char * 64)]


class VmsigWinImport(ctypes.Structure):
    """struct vmsig_win_import."""
    _fields_ = [("module", c_char_p), ("name", c_char_p),
                ("ordinal", c_u32), ("_pad", c_u32), ("iat", c_u64)]


class VmsigWinImports(ctypes.Structure):
    """struct vmsig_win_imports."""
    _fields_ = [("n", c_size), ("v", POINTER(VmsigWinImport)),
                ("status", c_int)]


P = c_void_p        # opaque handles: vmsig_holder, vmsig_mem, vmsig_win, pe

# name: (restype, argtypes).  Functions of win.h are optional: a library
# built before the Windows context exists still serves everything else.
_PROTOS = {
    "vmsig_holder_open": (c_int, [c_char_p, c_char_p, c_int, POINTER(P)]),
    "vmsig_holder_close": (None, [P]),
    "vmsig_holder_fd": (c_int, [P]),
    "vmsig_holder_pending": (c_size, [P]),
    "vmsig_holder_peer_id": (c_u32, [P]),
    "vmsig_holder_error": (c_char_p, [P]),
    "vmsig_holder_subscribe": (c_int, [P, POINTER(c_u32), c_size, c_u32,
                                       c_int]),
    "vmsig_holder_unsubscribe": (c_int, [P, c_int]),
    "vmsig_holder_next": (c_int, [P, c_int, POINTER(POINTER(VmsigEvent))]),
    "vmsig_event_free": (None, [POINTER(VmsigEvent)]),
    "vmsig_event_type_name": (c_char_p, [c_u32]),
    "vmsig_holder_mem": (P, [P, c_u32, POINTER(c_u32), POINTER(c_u64)]),
    "vmsig_holder_lease_acquire": (c_int, [P, c_u32, c_u32, c_int,
                                           POINTER(c_u64), POINTER(c_u64)]),
    "vmsig_holder_lease_renew": (c_int, [P, c_u64, c_u32, c_int,
                                         POINTER(c_u64)]),
    "vmsig_holder_lease_release": (c_int, [P, c_u64, c_int]),
    "vmsig_holder_write_pa": (c_int, [P, c_u32, c_u64, c_u64, c_void_p,
                                      c_size, c_int, POINTER(c_size)]),
    "vmsig_holder_write_va": (c_int, [P, c_u32, c_u64, c_u64, c_u64,
                                      c_void_p, c_size, c_int,
                                      POINTER(c_size)]),
    "vmsig_holder_status": (c_int, [P, c_int, POINTER(POINTER(VmsigStatus))]),
    "vmsig_status_free": (None, [POINTER(VmsigStatus)]),
    "vmsig_holder_endpoint_find": (c_int, [P, ctypes.c_char_p, c_int,
                                           POINTER(c_u32)]),
    "vmsig_mem_fd": (c_int, [P]),
    "vmsig_mem_size": (c_u64, [P]),
    "vmsig_mem_read_pa": (c_int, [P, c_u64, c_void_p, c_size,
                                  POINTER(c_size)]),
    "vmsig_mem_translate": (c_int, [P, c_u64, c_u64, POINTER(VmsigXlat)]),
    "vmsig_mem_read_va": (c_int, [P, c_u64, c_u64, c_void_p, c_size,
                                  POINTER(c_size)]),
    "vmsig_mem_flush": (None, [P]),
    "vmsig_mem_flush_cr3": (None, [P, c_u64]),
    "vmsig_mem_flush_va": (None, [P, c_u64, c_u64, c_u64]),
    "vmsig_mem_flush_gpa": (None, [P, c_u64, c_u64]),
    "vmsig_mem_pmap": (c_int, [P, c_u64, c_u64, c_u64, MAP_FN, c_void_p]),
    "vmsig_mem_scan_va": (c_i64, [P, c_u64, c_u64, c_u64, c_char_p,
                                  c_char_p, c_size, SCAN_FN, c_void_p]),
    "vmsig_mem_scan_pa": (c_i64, [P, c_u64, c_u64, c_char_p, c_char_p,
                                  c_size, SCAN_FN, c_void_p]),
}

_WIN_PROTOS = {
    "vmsig_holder_win": (P, [P, c_u32, POINTER(c_u32), POINTER(c_int)]),
    "vmsig_win_info": (c_int, [P, POINTER(VmsigWinInfo)]),
    "vmsig_win_offset": (c_int, [P, ctypes.c_uint, POINTER(VmsigWinOffset)]),
    "vmsig_win_proc_list": (c_int, [P, POINTER(POINTER(VmsigWinProcs))]),
    "vmsig_win_proc_find": (c_int, [P, c_u32, c_char_p,
                                    POINTER(POINTER(VmsigWinProcs))]),
    "vmsig_win_procs_free": (None, [POINTER(VmsigWinProcs)]),
    "vmsig_win_proc_dtb": (c_int, [P, c_u32, POINTER(c_u64)]),
    "vmsig_win_proc_read": (c_int, [P, c_u32, c_u64, c_void_p, c_size,
                                    POINTER(c_size)]),
    "vmsig_win_proc_translate": (c_int, [P, c_u32, c_u64,
                                         POINTER(VmsigXlat)]),
    "vmsig_win_mod_list": (c_int, [P, c_u32,
                                   POINTER(POINTER(VmsigWinModules))]),
    "vmsig_win_modules_free": (None, [POINTER(VmsigWinModules)]),
    "vmsig_win_pe_open": (c_int, [P, c_u64, c_u64, POINTER(P)]),
    "vmsig_win_pe_open_module": (c_int, [P, c_u32, c_char_p, POINTER(P)]),
    "vmsig_win_pe_close": (None, [P]),
    "vmsig_win_pe_info": (c_int, [P, POINTER(VmsigWinPeInfo)]),
    "vmsig_win_pe_sections": (c_int, [P, POINTER(POINTER(VmsigWinSection))]),
    "vmsig_win_pe_exports": (c_int, [P, POINTER(POINTER(VmsigWinExports))]),
    "vmsig_win_exports_free": (None, [POINTER(VmsigWinExports)]),
    "vmsig_win_pe_export_find": (c_int, [P, c_char_p,
                                         POINTER(VmsigWinExport)]),
    "vmsig_win_pe_imports": (c_int, [P, POINTER(POINTER(VmsigWinImports))]),
    "vmsig_win_imports_free": (None, [POINTER(VmsigWinImports)]),
    "vmsig_win_scan_proc": (c_i64, [P, c_u32, c_char_p, c_char_p, c_size,
                                    SCAN_FN, c_void_p]),
    "vmsig_win_pe_scan": (c_i64, [P, c_char_p, c_char_p, c_size, SCAN_FN,
                                  c_void_p]),
    "vmsig_win_pe_scan_section": (c_i64, [P, c_char_p, c_char_p, c_char_p,
                                          c_size, SCAN_FN, c_void_p]),
}


class Lib:
    """The loaded library: one attribute per declared function.

    ``has_win`` says whether the Windows context (win.h and
    vmsig_holder_win) is in this build of the library.
    """

    def __init__(self, cdll, path):
        self.path = path
        self.cdll = cdll
        for name, (res, args) in _PROTOS.items():
            setattr(self, name, _declare(cdll, name, res, args))
        self.has_win = True
        for name, (res, args) in _WIN_PROTOS.items():
            try:
                setattr(self, name, _declare(cdll, name, res, args))
            except AttributeError:
                self.has_win = False
                setattr(self, name, None)


def _declare(cdll, name, res, args):
    fn = getattr(cdll, name)
    fn.restype = res
    fn.argtypes = args
    return fn


def _candidates():
    env = os.environ.get("VMSIG_LIBRARY")
    if env:
        return [env]
    out = []
    bdir = os.environ.get("VMSIG_BUILD_DIR")
    if bdir:
        out.append(os.path.join(bdir, SONAME))
    out.append(SONAME)
    found = ctypes.util.find_library("vmsig-holder")
    if found:
        out.append(found)
    here = os.path.dirname(os.path.abspath(__file__))
    # PREFIX/lib/python3/dist-packages/vmsig -> PREFIX/lib
    out.append(os.path.normpath(os.path.join(here, "..", "..", "..",
                                             SONAME)))
    return out


_lock = threading.Lock()
_lib = None


def get():
    """The loaded library (loading it on the first call).

    Raises OSError naming every place tried when none of them loads.
    """
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in _candidates():
            try:
                cdll = ctypes.CDLL(path, use_errno=False)
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
                continue
            _lib = Lib(cdll, path)
            return _lib
        raise OSError(2, "libvmsig-holder not found; set VMSIG_LIBRARY "
                      "to its path. Tried: " + "; ".join(tried))
