# SPDX-License-Identifier: MIT
"""The Windows side from Python on guestgen's Windows scenes: processes,
modules, PE sections, exports and imports equal to the manifest's ground
truth ("win"), and `python3 -m vmsig ps/modules --json` byte for byte what
`vmsigctl ps/modules --json` prints for the same image.

Runs in: tests
"""

import errno
import json
import os
import sys

import pytest

import vmsig
from conftest import TOP, bin_path, expect, h2i, has_win

pytestmark = pytest.mark.skipif(
    not has_win(), reason="the library has no Windows context yet")


def hx(v):
    return None if v is None else h2i(v)


@pytest.fixture(params=["19045", "22631", "17763"])
def wguest(request, env):
    m = env.guest(extra=["--windows", request.param])
    if "win" not in m:
        pytest.skip("guestgen writes no Windows ground truth")
    env.helper(m)
    h = env.holder()
    h.subscribe()
    expect(h, "MEMCTX")
    yield env, m, h, h.win(1)
    h.close()


def test_processes(wguest):
    env, m, h, w = wguest
    truth = m["win"]["processes"]
    info = w.info
    assert info.build == m["win"]["build"]
    assert info.kernel_base == h2i(m["win"]["kernel_base"])
    procs = w.processes()
    assert procs.complete and procs.status == 0
    # The library says when it could not find EPROCESS.WoW64Process (it
    # then never reports wow64); compare the flag only when it found it.
    wow = [o for o in w.offsets() if o.name == "EPROCESS.WoW64Process"]
    wow_known = bool(wow) and wow[0].offset >= 0
    assert [p.pid for p in procs] == [t["pid"] for t in truth]
    for p, t in zip(procs, truth):
        assert p.ppid == t["ppid"]
        assert p.name == t["name"][:15]
        assert p.path == t["path"]
        # The library reports page-table roots without their low bits.
        assert (p.eprocess, p.dtb & ~0xfff, p.user_dtb & ~0xfff, p.peb) == (
            h2i(t["eprocess"]), h2i(t["dtb"]) & ~0xfff,
            h2i(t["user_dtb"]) & ~0xfff, h2i(t["peb"]))
        assert p.exited == t["exited"]
        assert p.wow64 == (t["wow64"] and wow_known)
        if t["path_fault"] is None:
            assert p.err == 0
        else:
            assert p.err == -errno.EFAULT
            # The manifest names the page, the library the byte.
            assert p.fault_va & ~0xfff == h2i(t["path_fault"]) & ~0xfff
    assert w.process(pid=4).name == "System"
    with pytest.raises(vmsig.Error) as ei:
        w.process(pid=99999)
    assert ei.value.errno == errno.ENOENT


def test_modules_and_pe(wguest):
    env, m, h, w = wguest
    incomplete = []
    for t in m["win"]["modules"]:
        p = w.process(pid=t["pid"])
        if t["fault_va"] is not None and not t["list"]:
            # The PEB cannot be read: no listing at all.
            with pytest.raises(vmsig.Error) as ei:
                p.modules()
            assert ei.value.errno == errno.EFAULT
            continue
        mods = p.modules()
        assert [(x.name, x.path, x.base, x.size, x.entry) for x in mods] == \
            [(x["name"], x["path"], h2i(x["base"]), h2i(x["size"]),
              h2i(x["entry"])) for x in t["list"]]
        for x, y in zip(mods, t["list"]):
            if y.get("fault_va") is None:
                assert x.err == 0
            else:
                assert x.err == -errno.EFAULT
                assert x.fault_va & ~0xfff == h2i(y["fault_va"]) & ~0xfff
        if t.get("status", 0) == 0:
            assert mods.complete
        else:
            # The walk ended at a paged-out entry, after what it read.
            assert mods.status == -t["status"]
            assert mods.fault_va & ~0xfff == h2i(t["fault_va"]) & ~0xfff
    for pe in m["win"]["pe"]:
        mod = w.process(pid=pe["pid"]).module(pe["module"])
        assert mod.base == h2i(pe["base"])
        assert mod.info()[3] == pe["bits"]
        assert [(s.name, s.va, s.size, s.characteristics)
                for s in mod.sections()] == \
            [(s["name"], h2i(s["va"]), h2i(s["size"]), s["characteristics"])
             for s in pe["sections"]]
        exps = mod.exports()
        assert sorted((e.ordinal, e.name or "", e.va, e.forward or "")
                      for e in exps) == \
            sorted((e["ordinal"], e["name"] or "", hx(e["va"]) or 0,
                    e["forward"] or "") for e in pe["exports"])
        for e in pe["exports"][:5]:
            if e["name"]:
                assert mod.export(e["name"]).ordinal == e["ordinal"]
        imps = mod.imports()
        got = [(i.module, i.name, i.ordinal, i.iat) for i in imps]
        want = [(i["module"], i["name"], i["ordinal"], h2i(i["iat"]))
                for i in pe["imports"]]
        if imps.complete:
            assert got == want
        else:
            # A table the library could not finish: what it read is a
            # prefix of the truth, and vmsigctl says the same.
            assert got == want[:len(got)]
            incomplete.append((pe["pid"], pe["module"], imps.status))
    if incomplete:
        print("import tables ended early: %r" % incomplete)
    nt = w.process(pid=4).module("ntoskrnl")
    with pytest.raises(vmsig.Error) as ei:
        nt.export("NoSuchExport")
    assert ei.value.errno == errno.ENOENT
    assert nt.read(0, 2) == b"MZ"
    # The kernel image by its own export, read through a process's DTB.
    ex = nt.export("PsInitialSystemProcess")
    sysproc = int.from_bytes(w.process(pid=4).read(ex.va, 8), "little")
    assert sysproc == h2i(m["win"]["system_eprocess"])


def cli(env, args):
    return env.run([sys.executable, "-m", "vmsig"] + args,
                   cwd=os.path.join(TOP, "python"))


def test_cli_equals_vmsigctl(wguest):
    env, m, h, w = wguest
    ctl = bin_path("bin/vmsigctl")
    pids = [t["pid"] for t in m["win"]["modules"] if t["list"]]
    cmds = [["ps", "1", "--json"]] + \
        [["modules", "1", str(pid), "--json"] for pid in pids]
    for cmd in cmds:
        a, b = cli(env, cmd), env.run([ctl] + cmd)
        assert (a.returncode, b.returncode) == (0, 0), (a.stderr, b.stderr)
        assert a.stdout == b.stdout, cmd
        json.loads(a.stdout)
    assert json.loads(cli(env, ["ps", "1", "--json"]).stdout) == \
        [p.to_dict() for p in w.processes()]
    # Text listings work too, and failures are exit status 1.
    a = cli(env, ["ps", "1"])
    assert a.returncode == 0 and "explorer.exe" in a.stdout.lower()
    bad = [t["pid"] for t in m["win"]["modules"] if not t["list"]]
    if bad:
        a = cli(env, ["modules", "1", str(bad[0])])
        assert a.returncode == 1 and "Bad address" in a.stderr
    a = cli(env, ["ps", "7", "--timeout", "0.3"])
    assert a.returncode == 1 and "no memory context" in a.stderr


def test_not_windows(env):
    m = env.guest(extra=["--windows", "none"])
    env.helper(m)
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        with pytest.raises(vmsig.Error) as ei:
            h.win(1)
        assert ei.value.errno in (errno.ENOENT, errno.ENOEXEC)
        assert h.win(2) is None


def test_scans(wguest):
    env, m, h, w = wguest
    k = w.process(pid=4).module("ntoskrnl.exe")
    assert k.base in list(k.scan("4d 5a"))
    text = [s for s in k.sections() if s.name == ".text"][0]
    hits = list(k.scan(k.read(text.va - k.base, 16), section=".text"))
    assert text.va in hits and all(text.va <= a < text.va + text.size
                                   for a in hits)
    pe = next(p for p in m["win"]["pe"] if p["pid"] != 4)
    proc = w.process(pid=pe["pid"])
    mod = proc.module(pe["module"])
    head = proc.read(mod.base, 64)
    assert mod.base in list(proc.scan(head))
    x = proc.translate(mod.base)
    assert h.mem(1).read_pa(x.gpa, 2) == b"MZ"
    with pytest.raises(vmsig.Error) as ei:
        list(k.scan(b"MZ", section=".nosuch"))
    assert ei.value.errno == errno.ENOENT

