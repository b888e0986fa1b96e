# SPDX-License-Identifier: MIT
"""Events and epochs from Python: MEMCTX with the guest's kcr3 and layout,
a guest reboot ending the epoch (MEMCTX_INVALIDATED, then MEMCTX of the
next epoch with the new kcr3), fileno() with selectors, the events()
iterator's timeout, event filters, status(), and refusals as vmsig.Error.

Runs in: tests
"""

import errno
import json
import selectors

import pytest

import vmsig
from conftest import expect, h2i, bin_path


def test_memctx_and_reboot(guest):
    env, m = guest
    with env.holder() as h:
        h.subscribe()
        ev = expect(h, "MEMCTX")
        assert (ev.endpoint, ev.epoch) == (1, 1)
        assert ev.seq >= 1
        assert ev.kcr3 == h2i(m["kcr3"])
        assert ev.low == h2i(m["low"])
        assert ev.flags & 0x1                   # VMSIG_MEMCTX_RDONLY
        assert ev.to_dict()["kcr3"] == m["kcr3"]
        mem = h.mem(1)
        assert mem.epoch == 1 and mem.kcr3 == ev.kcr3
        assert mem.read_va(None, h2i(m["kernel_base"]), 2) == b"MZ"
        m2 = env.reboot(m)
        assert m2["kcr3"] != m["kcr3"]
        ev = expect(h, "MEMCTX_INVALIDATED")
        assert (ev.endpoint, ev.epoch) == (1, 2)
        assert h.mem(1) is None
        ev2 = expect(h, "MEMCTX")
        assert (ev2.epoch, ev2.kcr3) == (2, h2i(m2["kcr3"]))
        assert ev2.seq > ev.seq
        mem2 = h.mem(1)
        assert mem2.epoch == 2
        assert mem2.read_va(None, h2i(m2["kernel_base"]), 2) == b"MZ"


def test_fileno_selectors_and_iterator(guest):
    env, m = guest
    with env.holder() as h:
        h.subscribe(endpoints=[1], events=["MEMCTX", "MEMCTX_INVALIDATED"])
        sel = selectors.DefaultSelector()
        sel.register(h, selectors.EVENT_READ)
        try:
            got = []
            for _ in range(100):
                if not h.pending and not sel.select(timeout=10):
                    break
                ev = h.next(timeout=0)
                if ev is not None:
                    got.append(ev)
                    break
            assert got and got[0].type == "MEMCTX"
        finally:
            sel.close()
        # Nothing more comes: the iterator ends after its timeout.
        assert list(h.events(timeout=0.3)) == []
        assert h.next(timeout=0) is None


def test_status_matches_vmsigctl(guest):
    env, m = guest
    with env.holder("status-test") as h:
        h.subscribe()
        expect(h, "MEMCTX")
        st = h.status()
        assert isinstance(st, vmsig.Status)
        assert [e.endpoint for e in st.endpoints] == [1]
        e = st.endpoints[0]
        assert e.has_context and e.epoch == 1 and e.kcr3 == h2i(m["kcr3"])
        assert e.method == "lowstub"
        assert any(p.name == "status-test" and p.role == "holder"
                   for p in st.peers)
        r = env.run([bin_path("bin/vmsigctl"), "status", "--json"])
        assert r.returncode == 0, r.stderr
        ctl = json.loads(r.stdout)
        mine = st.to_dict()
        # The same shape, key for key; the same endpoint facts.
        assert sorted(ctl) == sorted(mine)
        assert sorted(ctl["endpoints"][0]) == sorted(mine["endpoints"][0])
        assert sorted(ctl["peers"][0]) == sorted(mine["peers"][0])
        for k in ("endpoint", "epoch", "has_context", "kcr3", "low",
                  "flags", "segs", "method", "adapter_pid"):
            assert ctl["endpoints"][0][k] == mine["endpoints"][0][k], k


def test_no_daemon_is_an_error(env):
    with pytest.raises(vmsig.Error) as ei:
        vmsig.Holder(env.dir + "/nothing.sock", timeout=1)
    assert ei.value.errno in (errno.ENOENT, errno.ECONNREFUSED)
    assert isinstance(ei.value, OSError)


def test_closed_holder_raises(env):
    h = env.holder()
    h.close()
    h.close()
    assert h.closed
    with pytest.raises(vmsig.StaleError):
        h.next(timeout=0)
    with pytest.raises(vmsig.StaleError):
        h.subscribe()


def test_endpoint_gone(env):
    m = env.guest()
    p = env.helper(m)
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        mem = h.mem(1)
        env.stop(p)
        types = []
        for ev in h.events(timeout=10):
            types.append(ev.type)
            if ev.type == "ENDPOINT_GONE":
                break
        assert "ENDPOINT_GONE" in types
        assert h.mem(1) is None
        with pytest.raises(vmsig.StaleError):
            mem.read_pa(0, 8)


def test_asyncio_reader(guest):
    import asyncio
    env, m = guest

    async def main(h):
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        def ready():
            while True:
                ev = h.next(timeout=0)
                if ev is None:
                    break
                if not got.done():
                    got.set_result(ev)

        loop.add_reader(h.fileno(), ready)
        try:
            if h.pending:
                ready()
            return await asyncio.wait_for(got, 10)
        finally:
            loop.remove_reader(h.fileno())

    with env.holder() as h:
        h.subscribe()
        ev = asyncio.run(main(h))
        assert ev.type == "MEMCTX" and ev.kcr3 == h2i(m["kcr3"])
