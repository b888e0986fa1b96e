# SPDX-License-Identifier: MIT
"""pytest fixtures: the real vmsigd and vmsig-memctx from the build tree on
guestgen images, in a temporary directory, with bounded waits.

The build tree is $VMSIG_BUILD_DIR (make check-python sets it, and
VMSIG_LIBRARY to its libvmsig-holder.so.0).  The package is imported from
python/ in the source tree.

Runs in: tests
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "python"))

BUILD = os.path.abspath(os.environ.get("VMSIG_BUILD_DIR",
                                       os.path.join(TOP, "build")))
os.environ.setdefault("VMSIG_BUILD_DIR", BUILD)
os.environ.setdefault("VMSIG_LIBRARY",
                      os.path.join(BUILD, "libvmsig-holder.so.0"))

import vmsig  # noqa: E402


def bin_path(rel):
    """A program of the build tree; skips the test when it is not built."""
    p = os.path.join(BUILD, rel)
    if not os.access(p, os.X_OK):
        pytest.skip("%s is not built (make B=%s all)" % (p, BUILD))
    return p


def wait_socket(path, timeout=5.0):
    """Wait until a SEQPACKET connect to path succeeds."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(path)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("nothing listens on %s" % path)
            time.sleep(0.02)
        finally:
            s.close()


def fd_count():
    """Open descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def expect(h, type_, timeout=10.0):
    """The next event, which must be of type_ (a name)."""
    ev = h.next(timeout=timeout)
    assert ev is not None, "no %s within %ss" % (type_, timeout)
    assert ev.type == type_, "expected %s, got %r" % (type_, ev)
    return ev


class Env:
    """One vmsigd in a fresh directory, plus helpers and guests."""

    def __init__(self, tmp):
        self.dir = tmp
        self.hsock = os.path.join(tmp, "holder.sock")
        self.asock = os.path.join(tmp, "adapter.sock")
        self.procs = []
        self.vmsigd = self.spawn(
            "vmsigd", [bin_path("sbin/vmsigd"), "-f", "--holder-socket",
                       self.hsock, "--adapter-socket", self.asock,
                       "--gone-ms", "300", "--allow-writer",
                       "uid:%d" % os.getuid(),
                       # vmsigd admits only root unless told.
                       "--allow-holder", "uid:%d" % os.getuid(),
                       "--allow-adapter", "uid:%d" % os.getuid()]
            # ... nor gives a context to the RAM file's owner.
            + (["--deliver-to-owner"] if os.geteuid() != 0 else []))
        wait_socket(self.hsock)
        wait_socket(self.asock)
        self.env = dict(os.environ, VMSIG_SOCKET=self.hsock)

    def spawn(self, tag, argv):
        log = open(os.path.join(self.dir, tag + ".log"), "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log, close_fds=True)
        finally:
            log.close()
        self.procs.append(p)
        return p

    def guest(self, name="guest", size="256M", seed=11, extra=()):
        """Make a guestgen image; returns its manifest (dict) with
        "manifest_path" added."""
        image = os.path.join(self.dir, name + ".img")
        mpath = os.path.join(self.dir, name + ".json")
        argv = [bin_path("guestgen"), "--out", image, "--manifest", mpath,
                "--size", size, "--seed", str(seed)] + list(extra)
        subprocess.run(argv, check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        return self.manifest(mpath)

    @staticmethod
    def manifest(mpath):
        with open(mpath) as f:
            m = json.load(f)
        m["manifest_path"] = mpath
        return m

    def reboot(self, m, seed=None):
        """guestgen --reboot on m's image; returns the new manifest."""
        argv = [bin_path("guestgen"), "--reboot", m["image"], "--manifest",
                m["manifest_path"]]
        if seed is not None:
            argv += ["--seed", str(seed)]
        subprocess.run(argv, check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        return self.manifest(m["manifest_path"])

    def helper(self, m, endpoint=1, writable=False, extra=()):
        """vmsig-memctx on m's image for endpoint."""
        argv = [bin_path("sbin/vmsig-memctx"), "--endpoint", str(endpoint),
                "--ram", m["image"], "--connect", self.asock,
                "--revalidate-ms", "100"]
        if writable:
            argv.append("--writable")
        return self.spawn("memctx%d" % endpoint, argv + list(extra))

    def holder(self, name="pytest", **kw):
        return vmsig.Holder(self.hsock, name, **kw)

    def run(self, argv, **kw):
        """Run a program with VMSIG_SOCKET set; CompletedProcess."""
        kw.setdefault("timeout", 60)
        return subprocess.run(argv, env=self.env, capture_output=True,
                              text=True, **kw)

    def stop(self, p, sig=signal.SIGTERM, timeout=5.0):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        return p.returncode

    def close(self):
        for p in reversed(self.procs):
            self.stop(p)


@pytest.fixture
def env():
    """A running vmsigd in a temporary directory (honours $TMPDIR)."""
    tmp = tempfile.mkdtemp(prefix="vmsig-py.")
    e = None
    try:
        e = Env(tmp)
        yield e
    finally:
        if e is not None:
            e.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def guest(env):
    """env with one guest (endpoint 1) running its helper; yields
    (env, manifest)."""
    m = env.guest()
    env.helper(m)
    return env, m


def has_win():
    from vmsig import _lib
    return _lib.get().has_win


def canon(v):
    """Sign-extend a 48-bit virtual address to its canonical form."""
    return v | 0xffff000000000000 if v & (1 << 47) else v


def h2i(s):
    """A manifest's "0x..." string as an int."""
    return int(s, 16)
