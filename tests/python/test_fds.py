# SPDX-License-Identifier: MIT
"""Nothing leaks a descriptor: the Python process's fd count is flat after
1,000 open/subscribe/read/close cycles, with and without a context mapped,
and after objects are simply dropped instead of closed.

Runs in: tests
"""

import gc

from conftest import expect, fd_count, h2i


def cycle(env, kb, read):
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        if read:
            assert h.mem(1).read_va(None, kb, 2) == b"MZ"


def test_fd_count_flat(guest):
    env, m = guest
    kb = h2i(m["kernel_base"])
    cycle(env, kb, True)
    gc.collect()
    before = fd_count()
    for i in range(1000):
        cycle(env, kb, i % 2 == 0)
    gc.collect()
    assert fd_count() == before


def test_dropped_objects(guest):
    env, m = guest
    kb = h2i(m["kernel_base"])
    before = fd_count()
    for _ in range(50):
        h = env.holder()
        h.subscribe()
        expect(h, "MEMCTX")
        mem = h.mem(1)
        mem.read_va(None, kb, 2)
        del h, mem                  # no close(): the finaliser closes
    gc.collect()
    assert fd_count() == before
