# SPDX-License-Identifier: MIT
"""A context used after its epoch ended raises StaleError and never
touches freed memory: Memory (and Windows, when the library has it) kept
across a guest reboot, an ended helper, and a closed holder.

Runs in: tests
"""

import errno

import pytest

import vmsig
from conftest import expect, h2i, has_win


def test_memory_after_reboot(guest):
    env, m = guest
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        mem = h.mem(1)
        kb = h2i(m["kernel_base"])
        assert mem.read_va(None, kb, 2) == b"MZ"
        m2 = env.reboot(m)
        expect(h, "MEMCTX_INVALIDATED")
        for call in (lambda: mem.read_va(None, kb, 2),
                     lambda: mem.read_pa(0, 8),
                     lambda: mem.readinto_va(None, kb, bytearray(8)),
                     lambda: mem.translate(None, kb),
                     lambda: list(mem.pmap()),
                     lambda: list(mem.scan_pa(b"MZ")),
                     lambda: mem.size):
            with pytest.raises(vmsig.StaleError) as ei:
                call()
            assert ei.value.errno == errno.ESTALE
        assert not mem.valid
        expect(h, "MEMCTX")
        # Still stale: the new epoch's context is a new object.
        with pytest.raises(vmsig.StaleError):
            mem.read_pa(0, 8)
        assert h.mem(1).read_va(None, h2i(m2["kernel_base"]), 2) == b"MZ"


def test_memory_after_close(guest):
    env, m = guest
    h = env.holder()
    h.subscribe()
    expect(h, "MEMCTX")
    mem = h.mem(1)
    it = mem.scan_pa(b"\0" * 8)
    next(it)
    h.close()
    with pytest.raises(vmsig.StaleError):
        mem.read_pa(0, 8)
    with pytest.raises(vmsig.StaleError):
        list(it)                    # its next chunk needs the context


def test_same_epoch_survives_other_events(env):
    m1 = env.guest("a", seed=3)
    m2 = env.guest("b", seed=4)
    env.helper(m1, endpoint=1)
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        mem = h.mem(1)
        env.helper(m2, endpoint=2)
        ev = expect(h, "MEMCTX")
        assert ev.endpoint == 2
        # An event of another endpoint does not end endpoint 1's epoch.
        assert mem.read_va(None, h2i(m1["kernel_base"]), 2) == b"MZ"
        assert h.mem(2).read_va(None, h2i(m2["kernel_base"]), 2) == b"MZ"


@pytest.mark.skipif(not has_win(), reason="the library has no Windows "
                    "context yet (vmsig_holder_win)")
def test_windows_after_reboot(guest):
    env, m = guest
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        w = h.win(1)
        procs = w.processes()
        assert procs
        env.reboot(m)
        expect(h, "MEMCTX_INVALIDATED")
        with pytest.raises(vmsig.StaleError):
            w.processes()
        with pytest.raises(vmsig.StaleError):
            procs[0].modules()
        with pytest.raises(vmsig.StaleError):
            procs[0].read(procs[0].eprocess, 8)
