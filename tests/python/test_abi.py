# SPDX-License-Identifier: MIT
"""The ctypes structures of vmsig._lib have the C compiler's layout of
include/vmsig/*.h (size and every field's offset), and every function the
package declares is exported by the library: a header change that the
package does not follow fails here, not as a wrong value at run time.

Runs in: tests
"""

import ctypes
import os
import shutil
import subprocess

import pytest

from conftest import TOP, BUILD
from vmsig import _lib

# ctypes class -> C type; field renames (ctypes name -> C member).
TYPES = {
    _lib.VmsigEvent: ("vmsig_event", {"payload_data": "payload.data",
                                      "payload_len": "payload.len"}),
    _lib.VmsigMemctx: ("vmsig_memctx", {}),
    _lib.VmsigMemseg: ("vmsig_memseg", {}),
    _lib.VmsigMemctxInv: ("vmsig_memctx_inv", {}),
    _lib.VmsigMemwritten: ("vmsig_memwritten", {}),
    _lib.VmsigLeaseLost: ("vmsig_lease_lost", {}),
    _lib.VmsigStatusEndpoint: ("struct vmsig_status_endpoint", {}),
    _lib.VmsigStatusPeer: ("struct vmsig_status_peer", {}),
    _lib.VmsigStatus: ("struct vmsig_status", {}),
    _lib.VmsigXlat: ("struct vmsig_xlat", {}),
    _lib.VmsigMapRange: ("struct vmsig_map_range", {}),
    _lib.VmsigWinInfo: ("struct vmsig_win_info", {}),
    _lib.VmsigWinOffset: ("struct vmsig_win_offset", {}),
    _lib.VmsigWinProc: ("struct vmsig_win_proc", {}),
    _lib.VmsigWinProcs: ("struct vmsig_win_procs", {}),
    _lib.VmsigWinModule: ("struct vmsig_win_module", {}),
    _lib.VmsigWinModules: ("struct vmsig_win_modules", {}),
    _lib.VmsigWinPeInfo: ("struct vmsig_win_pe_info", {}),
    _lib.VmsigWinSection: ("struct vmsig_win_section", {}),
    _lib.VmsigWinExport: ("struct vmsig_win_export", {}),
    _lib.VmsigWinExports: ("struct vmsig_win_exports", {}),
    _lib.VmsigWinImport: ("struct vmsig_win_import", {}),
    _lib.VmsigWinImports: ("struct vmsig_win_imports", {}),
}


def c_layout(tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        pytest.skip("no C compiler")
    lines = ["#include <stddef.h>", "#include <stdio.h>",
             "#include <vmsig/holder.h>", "#include <vmsig/mem.h>",
             "#include <vmsig/win.h>", "int main(void) {"]
    for cls, (ctype, ren) in TYPES.items():
        lines.append('printf("%s size %%zu\\n", sizeof(%s));'
                     % (cls.__name__, ctype))
        for f in cls._fields_:
            member = ren.get(f[0], f[0])
            lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));'
                         % (cls.__name__, f[0], ctype, member))
    lines += ["return 0;", "}"]
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "abi"
    subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-I",
                    os.path.join(TOP, "include"), "-o", str(exe), str(src)],
                   check=True, timeout=120)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout
    return dict(line.rsplit(" ", 1) for line in out.splitlines())


def test_struct_layouts(tmp_path):
    c = c_layout(tmp_path)
    bad = []
    for cls in TYPES:
        if int(c["%s size" % cls.__name__]) != ctypes.sizeof(cls):
            bad.append("%s: size %s in C, %d in ctypes" % (
                cls.__name__, c["%s size" % cls.__name__],
                ctypes.sizeof(cls)))
        for f in cls._fields_:
            k = "%s.%s" % (cls.__name__, f[0])
            if int(c[k]) != getattr(cls, f[0]).offset:
                bad.append("%s at %s in C, %d in ctypes" % (
                    k, c[k], getattr(cls, f[0]).offset))
    assert not bad, "\n".join(bad)


def test_functions_exported():
    lib = _lib.get()
    assert os.path.realpath(lib.path).startswith(os.path.realpath(BUILD)) \
        or "VMSIG_LIBRARY" in os.environ
    missing = [n for n in list(_lib._PROTOS) + list(_lib._WIN_PROTOS)
               if not hasattr(lib.cdll, n)]
    assert not missing
    assert lib.has_win
