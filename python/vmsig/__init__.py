# SPDX-License-Identifier: MIT
"""vmsig: guest memory of virtual machines, from Python.

A Python holder of vmsigd, over libvmsig-holder (ctypes; nothing to
compile).  vmsigd vends, per guest ("endpoint"), a read-only descriptor of
the guest's RAM, where each guest-physical range lives in it, and the guest
kernel's page-table root (kcr3), all valid for one VM session ("epoch").
This package reads that memory, translates virtual addresses, walks page
maps, scans, lists Windows processes and modules, and writes under a lease.

    >>> import vmsig
    >>> with vmsig.Holder() as h:                     # /run/vmsig/holder.sock
    ...     h.subscribe()
    ...     ev = h.next(timeout=5)                     # MEMCTX of endpoint 1
    ...     mem = h.mem(ev.endpoint)                   # this epoch's RAM
    ...     win = h.win(ev.endpoint)                   # Windows discovery
    ...     mem.read_va(None, win.info.kernel_base, 2) # b'MZ', under kcr3
    ...     for p in win.processes():
    ...         print(p.pid, p.name, [m.name for m in p.modules()][:3])

Classes: :class:`Holder` (connection, events, leases, writes), :class:`Event`,
:class:`Memory` (reads, translation, pmap, scans), :class:`Windows`,
:class:`Process`, :class:`Module` (Windows discovery), :class:`Lease`.
Errors: :class:`Error` (an OSError with errno and the daemon's message),
:class:`Fault` (address that failed, bytes done), :class:`StaleError`
(the epoch ended).  Objects of an ended epoch raise, never crash.

The library is found through $VMSIG_LIBRARY, $VMSIG_BUILD_DIR, the dynamic
linker, or the installation prefix (see vmsig._lib).  ``python3 -m vmsig``
is a small command-line tool (status, watch, ps, modules; --json).

Runs in: holder
"""

from .errors import Error, Fault, StaleError
from .holder import (Event, EndpointStatus, Holder, Lease, PeerStatus,
                     Segment, Status, EVENT_TYPES)
from .memory import (MapRange, Memory, Translation, PAGE_NX, PAGE_USER,
                     PAGE_WRITABLE)
from .win import Export, Import, Module, Process, Section, Windows

__all__ = [
    "Error", "Fault", "StaleError", "Event", "EndpointStatus", "Holder",
    "Lease", "PeerStatus", "Segment", "Status", "EVENT_TYPES", "MapRange",
    "Memory", "Translation", "PAGE_NX", "PAGE_USER", "PAGE_WRITABLE",
    "Export", "Import", "Module", "Process", "Section", "Windows",
    "library_path",
]

__version__ = "0.1"


def library_path():
    """The path of the libvmsig-holder this package loaded (loading it)."""
    from . import _lib
    return _lib.get().path
