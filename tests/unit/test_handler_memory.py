"""handler.memory finds glibc's malloc_trim and mallopt without ctypes.util.find_library, whose `ldconfig -p`
subprocess ran in every cold start when the module was imported."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes.util, subprocess
def refuse(*args, **kwargs):
    raise AssertionError("a subprocess was started")
ctypes.util.find_library = refuse
subprocess.Popen = refuse
import handler.memory as memory
print(memory.release(), memory.limit_arenas(2))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_memory_helpers_work_without_find_library_or_a_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True"]
