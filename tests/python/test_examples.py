# SPDX-License-Identifier: MIT
"""The examples run: proc_watch.py prints the processes of a Windows guest
and, across a guest reboot, those that disappeared and appeared;
dump_module.py writes a module's image that matches the guest's bytes.

Runs in: tests
"""

import os
import subprocess
import sys
import time

import pytest

from conftest import TOP, expect, has_win, h2i

pytestmark = pytest.mark.skipif(
    not has_win(), reason="the library has no Windows context yet")

EX = os.path.join(TOP, "python", "examples")


def test_proc_watch_across_reboot(env):
    m = env.guest()
    env.helper(m)
    out = os.path.join(env.dir, "watch.out")
    with open(out, "w") as f:
        p = subprocess.Popen([sys.executable, os.path.join(EX,
                                                           "proc_watch.py"),
                              "--socket", env.hsock, "--interval", "0.2",
                              "--epochs", "2", "--timeout", "60"],
                             stdout=f, stderr=subprocess.STDOUT)
    try:
        # Wait for the first epoch's listing, then reboot the guest.
        deadline = time.monotonic() + 30
        while "+ 4 System" not in open(out).read():
            assert p.poll() is None, open(out).read()
            assert time.monotonic() < deadline, open(out).read()
            time.sleep(0.05)
        m2 = env.reboot(m)
        assert p.wait(60) == 0, open(out).read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = open(out).read()
    lines = text.splitlines()
    first = {(t["pid"], t["name"][:15]) for t in m["win"]["processes"]}
    second = {(t["pid"], t["name"][:15]) for t in m2["win"]["processes"]}
    i1 = lines.index("epoch 1 endpoint 1: %d processes" % len(first))
    assert "epoch 1 ended" in lines
    i2 = lines.index("epoch 2 endpoint 1: %d processes" % len(second))
    plus1 = {tuple(l.split(" ", 2)[1:]) for l in lines[i1 + 1:i2]
             if l.startswith("+ ")}
    assert plus1 == {(str(a), b) for a, b in first}
    after = lines[i2 + 1:]
    gone = {tuple(l.split(" ", 2)[1:]) for l in after if l.startswith("- ")}
    new = {tuple(l.split(" ", 2)[1:]) for l in after if l.startswith("+ ")}
    assert gone == {(str(a), b) for a, b in first - second}
    assert new == {(str(a), b) for a, b in second - first}
    assert gone or new, text


def test_dump_module(guest):
    env, m = guest
    if "win" not in m:
        pytest.skip("guestgen writes no Windows ground truth")
    outf = os.path.join(env.dir, "nt.bin")
    r = env.run([sys.executable, os.path.join(EX, "dump_module.py"),
                 "--pid", "4", "ntoskrnl.exe", outf])
    assert r.returncode == 0, r.stderr
    assert "ntoskrnl.exe of pid 4" in r.stdout
    data = open(outf, "rb").read()
    assert len(data) == h2i(m["win"]["kernel_size"])
    assert data[:2] == b"MZ"
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
        k = h.win(1).process(pid=4).module("ntoskrnl")
        assert data[:0x3000] == k.read(0, 0x3000)
    # A user module by process name, and a refusal for a missing one.
    pe = next(p for p in m["win"]["pe"] if p["pid"] != 4)
    name = next(t["name"] for t in m["win"]["processes"]
                if t["pid"] == pe["pid"])
    r = env.run([sys.executable, os.path.join(EX, "dump_module.py"),
                 "--pid", str(pe["pid"]), pe["module"], outf])
    assert r.returncode == 0, r.stderr
    assert open(outf, "rb").read(2) == b"MZ"
    r = env.run([sys.executable, os.path.join(EX, "dump_module.py"),
                 "--name", name, "nosuch.dll", outf])
    assert r.returncode == 1 and "nosuch.dll" in r.stderr
