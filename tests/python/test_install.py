# SPDX-License-Identifier: MIT
"""The package as installed: `import vmsig` and help(vmsig) work with no
library at all (it loads on first use and then says where it looked), and
a copy laid out as `make install-python` lays it out
(PREFIX/lib/python3/dist-packages/vmsig next to PREFIX/lib/
libvmsig-holder.so.0) finds its library with no environment.

Runs in: tests
"""

import os
import shutil
import subprocess
import sys

from conftest import BUILD, TOP

PKG = os.path.join(TOP, "python", "vmsig")


def run(code, env, cwd):
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VMSIG_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def install(tmp_path, with_lib):
    prefix = tmp_path / "usr"
    dist = prefix / "lib" / "python3" / "dist-packages"
    dist.mkdir(parents=True)
    shutil.copytree(PKG, dist / "vmsig",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if with_lib:
        shutil.copy(os.path.join(BUILD, "libvmsig-holder.so.0"),
                    prefix / "lib" / "libvmsig-holder.so.0")
    return prefix, dist


def test_help_without_library(tmp_path):
    prefix, dist = install(tmp_path, False)
    env = clean_env(PYTHONPATH=str(dist), PAGER="cat",
                    VMSIG_LIBRARY=str(tmp_path / "missing.so.0"))
    r = run("import vmsig, pydoc; print(pydoc.render_doc(vmsig, "
            "renderer=pydoc.plaintext)[:200]); "
            "print(pydoc.render_doc(vmsig.Holder, "
            "renderer=pydoc.plaintext)[:200])", env, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "guest memory of virtual machines" in r.stdout
    assert "A connection to vmsigd as a holder" in r.stdout
    r = run("import vmsig\ntry:\n    vmsig.Holder()\nexcept OSError as e:"
            "\n    print('ERR', e)", env, str(tmp_path))
    assert r.returncode == 0 and "libvmsig-holder not found" in r.stdout
    assert "VMSIG_LIBRARY" in r.stdout


def test_finds_library_next_to_prefix(tmp_path):
    prefix, dist = install(tmp_path, True)
    r = run("import vmsig; print(vmsig.library_path())",
            clean_env(PYTHONPATH=str(dist)), str(tmp_path))
    assert r.returncode == 0, r.stderr
    path = r.stdout.strip()
    assert path.endswith("libvmsig-holder.so.0")
    # Either the dynamic linker knows an installed one, or ours is used.
    if path != "libvmsig-holder.so.0":
        assert os.path.samefile(path, prefix / "lib" /
                                "libvmsig-holder.so.0")
