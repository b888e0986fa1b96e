# SPDX-License-Identifier: MIT
"""Leases and writes from Python: the lease as a context manager released
on exit (even on an exception), writes by GPA and by VA that read back,
MEMWRITTEN to another holder, EBUSY with the daemon's message for a second
holder, Fault for a write outside RAM, EROFS from a helper that is not
--writable.

Runs in: tests
"""

import errno

import pytest

import vmsig
from conftest import expect, h2i


def test_lease_and_writes(env):
    m = env.guest()
    env.helper(m, writable=True)
    with env.holder("writer") as h, env.holder("watcher") as w:
        h.subscribe()
        w.subscribe()
        expect(h, "MEMCTX")
        expect(w, "MEMCTX")
        mem = h.mem(1)
        gpa = 0x100000
        with h.lease(1, 5000) as lease:
            assert lease.id > 0
            assert h.write_pa(1, lease, gpa, b"python!!") == 8
            assert mem.read_pa(gpa, 8) == b"python!!"
            ev = expect(w, "MEMWRITTEN")
            assert (ev.gpa, ev.len, ev.writer) == (gpa, 8, h.peer_id)
            # A second holder is refused with the daemon's reason.
            with pytest.raises(vmsig.Error) as ei:
                w.lease(1, 1000)
            assert ei.value.errno == errno.EBUSY and ei.value.message
            # By VA through the 1 GiB page that maps GPA 0.
            va = h2i(m["onegig_va"]) + gpa + 8
            assert lease.write_va(None, va, bytearray(b"ABCD")) == 4
            assert mem.read_pa(gpa + 8, 4) == b"ABCD"
            with pytest.raises(vmsig.Fault) as ei:
                h.write_pa(1, lease, h2i(m["file_size"]) - 4, b"12345678")
            assert ei.value.done == 4
            assert ei.value.address == h2i(m["file_size"])
            lease.renew(2000)
        assert h.status().endpoints[0].lease_id == 0
        with pytest.raises(vmsig.Error) as ei:
            h.write_pa(1, lease, gpa, b"x")
        assert ei.value.errno == errno.EPERM
        # Released on an exception too.
        with pytest.raises(RuntimeError):
            with w.lease(1, 1000):
                raise RuntimeError("boom")
        assert h.status().endpoints[0].lease_id == 0


def test_not_writable(guest):
    env, m = guest
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        with h.lease(1, 1000) as lease:
            with pytest.raises(vmsig.Error) as ei:
                lease.write_pa(0x100000, b"x")
            assert ei.value.errno == errno.EROFS
            assert "--writable" in ei.value.message
