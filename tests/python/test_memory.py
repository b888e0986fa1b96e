# SPDX-License-Identifier: MIT
"""Reads and faults from Python against a guestgen manifest's ground
truth: every probe reads its bytes or raises the manifest's errno (Fault
with the failing address and the bytes done), readinto_va fills many kinds
of caller buffers in place, translation and the page map agree with the
manifest's maps, VA and physical scans find the patterns.

Runs in: tests
"""

import array
import errno
import mmap

import pytest

import vmsig
from conftest import expect, h2i


@pytest.fixture
def mem(guest):
    env, m = guest
    h = env.holder()
    h.subscribe()
    expect(h, "MEMCTX")
    yield h.mem(1), m
    h.close()


def test_probes(mem):
    mem, m = mem
    n = 0
    for p in m["probes"]:
        cr3, va = h2i(p["cr3"]), h2i(p["va"])
        if p.get("fault"):
            with pytest.raises(vmsig.Error) as ei:
                mem.read_va(cr3, va, 8)
            assert ei.value.errno == p["errno"], p
            if p["errno"] == errno.EFAULT:
                assert isinstance(ei.value, vmsig.Fault)
                assert va <= ei.value.address < va + 8
                assert ei.value.done == ei.value.address - va
        else:
            want = bytes.fromhex(p["bytes"])
            assert mem.read_va(cr3, va, len(want)) == want, p
            buf = bytearray(len(want))
            assert mem.readinto_va(cr3, va, buf) == len(want)
            assert buf == want
        n += 1
    assert n >= 30


def test_fault_midway(mem):
    mem, m = mem
    # A read running from a mapped page into an unmapped one: the fault
    # names the first unreadable byte and how much was read before it.
    for p in m["probes"]:
        if p.get("fault") and p["errno"] == errno.EFAULT:
            va = h2i(p["va"])
            cr3 = h2i(p["cr3"])
            start = (va & ~0xfff) - 16
            try:
                mem.read_va(cr3, start, 16)
            except vmsig.Fault:
                continue            # the page before is unmapped too
            with pytest.raises(vmsig.Fault) as ei:
                mem.read_va(cr3, start, 64 + (va & 0xfff))
            assert ei.value.address >= va & ~0xfff
            assert ei.value.done == ei.value.address - start
            buf = bytearray(0x2000)
            with pytest.raises(vmsig.Fault) as ei:
                mem.readinto_va(cr3, start, buf)
            assert buf[:16] == mem.read_va(cr3, start, 16)
            return
    pytest.fail("no probe with a mapped page before a fault")


def test_physical(mem):
    mem, m = mem
    size = h2i(m["file_size"])
    assert mem.size == size
    kcr3 = h2i(m["kcr3"])
    assert len(mem.read_pa(kcr3, 4096)) == 4096
    with pytest.raises(vmsig.Fault) as ei:
        mem.read_pa(size - 8, 16)
    assert ei.value.address == size and ei.value.done == 8
    big = mem.read_pa(0, 3 * 4096 + 5)
    assert len(big) == 3 * 4096 + 5
    buf = bytearray(100)
    assert mem.readinto_pa(0, buf) == 100 and bytes(buf) == big[:100]


def test_readinto_buffers(mem):
    mem, m = mem
    p = next(p for p in m["probes"] if not p.get("fault")
             and len(p["bytes"]) >= 32)
    cr3, va, want = h2i(p["cr3"]), h2i(p["va"]), bytes.fromhex(p["bytes"])
    n = len(want)
    ba = bytearray(n + 8)
    assert mem.readinto_va(cr3, va, memoryview(ba)[4:4 + n]) == n
    assert ba[4:4 + n] == want and ba[:4] == b"\0" * 4
    arr = array.array("B", bytes(n))
    mem.readinto_va(cr3, va, arr)
    assert arr.tobytes() == want
    q = array.array("Q", bytes(n - n % 8))
    mem.readinto_va(cr3, va, q)
    assert q.tobytes() == want[:len(q) * 8]
    anon = mmap.mmap(-1, 4096)
    mem.readinto_va(cr3, va, memoryview(anon)[:n])
    assert anon[:n] == want
    anon.close()
    with pytest.raises(TypeError):
        mem.readinto_va(cr3, va, b"immutable")
    assert mem.readinto_va(cr3, va, bytearray()) == 0
    big = bytearray(1 << 20)
    mem.readinto_va(None, h2i(m["onegig_va"]), big)
    assert bytes(big) == mem.read_pa(0, 1 << 20)


def test_translate_and_pmap(mem):
    mem, m = mem
    kcr3 = h2i(m["kcr3"])
    slot = m["self_index"]
    slot_lo = ((slot << 39) | (0xffff << 48 if slot >= 256 else 0))
    slot_hi = slot_lo + (1 << 39)
    runs = [r for r in mem.pmap(kcr3)
            if not slot_lo <= r.va < slot_hi]
    want = [r for r in m["maps"] if h2i(r["cr3"]) == kcr3]
    assert [(r.va, r.size, r.gpa, r.page_size, r.flags) for r in runs] == \
        [(h2i(r["va"]), h2i(r["size"]), h2i(r["gpa"]), h2i(r["page_size"]),
          r["flags"]) for r in want]
    for r in runs[:8]:
        x = mem.translate(kcr3, r.va)
        assert (x.gpa, x.page_size, x.flags) == (r.gpa, r.page_size,
                                                  r.flags)
        assert x.writable == bool(r.flags & vmsig.PAGE_WRITABLE)
    # A bounded window and chunked iteration give the same runs.
    lo, hi = runs[1].va, runs[-1].va
    sub = list(mem.pmap(kcr3, lo, hi))
    assert sub[0].va == lo and all(lo <= r.va < hi for r in sub)
    with pytest.raises(vmsig.Error) as ei:
        mem.translate(kcr3, 0x800000000000)
    assert ei.value.errno == errno.EINVAL


def test_scans(mem):
    mem, m = mem
    for p in m["patterns"]:
        pat = bytes.fromhex(p["bytes"])
        addr = h2i(p["addr"])
        if p["cr3"] == "0x0":
            hits = list(mem.scan_pa(pat))
            assert hits == [addr]
            # Text patterns with wildcards.
            text = " ".join("%02x" % b for b in pat[:4]) + " ?? " + \
                " ".join("%02x" % b for b in pat[5:])
            assert list(mem.scan_pa(text)) == [addr]
        else:
            hits = list(mem.scan_va(h2i(p["cr3"]), pat))
            assert addr in hits
            mask = bytes([0xff] * 8 + [0] * 8)
            assert addr in list(mem.scan_va(h2i(p["cr3"]), pat, mask=mask))
    with pytest.raises(ValueError):
        mem.scan_pa(b"")


def test_many_hits_chunked(mem):
    mem, m = mem
    # Zero pages are everywhere: more hits than one chunk (4096).
    it = mem.scan_pa(b"\0" * 8, 0, 1 << 20)
    hits = [next(it) for _ in range(10000)]
    assert hits == sorted(set(hits))


def test_shortcut_equals_library(env):
    """Small reads answered from the Python-side translations equal the
    library's own reads (readinto_va always goes through it), on a split
    layout (RAM above 4 GiB) too."""
    import random
    m = env.guest(size="256M", extra=["--low", "128M"])
    env.helper(m, extra=["--low", "0x8000000"])
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        mem = h.mem(1)
        kcr3 = h2i(m["kcr3"])
        runs = [r for r in mem.pmap(kcr3)]
        rng = random.Random(3)
        checked = 0
        for _ in range(3000):
            r = rng.choice(runs)
            va = r.va + rng.randrange(0, r.size)
            n = rng.choice([1, 8, 64, 4096, 5000])
            ref = bytearray(n)
            try:
                mem.readinto_va(kcr3, va, ref)
            except vmsig.Fault as e:
                with pytest.raises(vmsig.Fault) as ei:
                    mem.read_va(kcr3, va, n)
                assert (ei.value.address, ei.value.done) == (e.address,
                                                             e.done)
                continue
            for cr3 in (kcr3, None):
                assert mem.read_va(cr3, va, n) == ref     # learns
                assert mem.read_va(cr3, va, n) == ref     # shortcut
            checked += 1
        assert checked > 1000
        with pytest.raises(ValueError):
            mem.read_va(None, runs[0].va, -1)
        for p in m["probes"]:
            if not p.get("fault"):
                want = bytes.fromhex(p["bytes"])
                for _ in range(2):
                    assert mem.read_va(h2i(p["cr3"]), h2i(p["va"]),
                                       len(want)) == want


def test_context_released_at_invalidation(guest):
    """The tracker's descriptors and the Memory's own mapping are closed
    when MEMCTX_INVALIDATED is delivered, not when Python collects."""
    import gc
    from conftest import fd_count
    env, m = guest
    with env.holder() as h:
        gc.collect()
        base = fd_count()
        h.subscribe()
        expect(h, "MEMCTX")
        mem = h.mem(1)
        kb = h2i(m["kernel_base"])
        for _ in range(3):
            assert mem.read_va(None, kb, 2) == b"MZ"
        assert fd_count() > base
        env.reboot(m)
        expect(h, "MEMCTX_INVALIDATED")
        assert fd_count() == base           # mem is still referenced
        with pytest.raises(vmsig.StaleError):
            mem.read_va(None, kb, 2)


def test_flush(mem):
    mem, m = mem
    kb = h2i(m["kernel_base"])
    for args in ({}, {"cr3": h2i(m["kcr3"])}, {"va": kb, "length": 4096},
                 {"gpa": 0, "length": 1 << 20}):
        assert mem.read_va(None, kb, 2) == b"MZ"
        mem.flush(**args)
        assert mem.read_va(None, kb, 2) == b"MZ"
