# SPDX-License-Identifier: MIT
"""python3 -m vmsig status and watch against vmsigctl's: the same JSON
(watch byte for byte; status key for key, with the same endpoint facts),
readable text, and exit status 1 with a message when there is no daemon.

Runs in: tests
"""

import json
import os
import sys

from conftest import TOP, bin_path, expect


def cli(env, args, **kw):
    return env.run([sys.executable, "-m", "vmsig"] + args,
                   cwd=os.path.join(TOP, "python"), **kw)


def test_watch_json_equals_vmsigctl(guest):
    env, m = guest
    ctl = bin_path("bin/vmsigctl")
    with env.holder() as h:       # the context exists before both watch
        h.subscribe()
        expect(h, "MEMCTX")
    args = ["watch", "--count", "1", "--timeout", "10", "--json"]
    a, b = cli(env, args), env.run([ctl] + args)
    assert (a.returncode, b.returncode) == (0, 0), (a.stderr, b.stderr)
    assert a.stdout == b.stdout
    ev = json.loads(a.stdout)
    assert ev["type"] == "MEMCTX" and ev["kcr3"] == m["kcr3"]
    t = cli(env, ["watch", "--count", "1", "--timeout", "10"])
    assert t.returncode == 0 and t.stdout.startswith("MEMCTX endpoint 1 ")
    t = cli(env, ["watch", "--count", "2", "--timeout", "0.3"])
    assert t.returncode == 1 and "timed out" in t.stderr


def test_status(guest):
    env, m = guest
    with env.holder() as h:
        h.subscribe()
        expect(h, "MEMCTX")
    a = cli(env, ["status", "--json"])
    b = env.run([bin_path("bin/vmsigctl"), "status", "--json"])
    assert (a.returncode, b.returncode) == (0, 0), (a.stderr, b.stderr)
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert list(ja) == list(jb)
    assert [list(e) for e in ja["endpoints"]] == \
        [list(e) for e in jb["endpoints"]]
    assert {tuple(p) for p in ja["peers"]} == {tuple(p) for p in jb["peers"]}
    for k in ("endpoint", "epoch", "kcr3", "low", "segs", "method",
              "adapter_pid", "events"):
        assert ja["endpoints"][0][k] == jb["endpoints"][0][k]
    t = cli(env, ["status"])
    assert t.returncode == 0
    assert "endpoint 1: epoch 1 kcr3 %s" % m["kcr3"] in t.stdout


def test_no_daemon(env):
    r = cli(env, ["--socket", os.path.join(env.dir, "none.sock"),
                  "status"])
    assert r.returncode == 1 and "cannot reach vmsigd" in r.stderr
    r = cli(env, ["bogus"])
    assert r.returncode == 2
