"""glibc's thresholds: after keep_freed_memory() a large block comes from the heap, not a fresh mapping."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from medsegkit.runtime.allocator import keep_freed_memory

PROBE = """
import ctypes, sys
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in FIELDS.split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "keep":
    from medsegkit.runtime.allocator import keep_freed_memory
    assert keep_freed_memory()
before = libc.mallinfo2().hblkhd
block = libc.malloc(8 << 20)
print(libc.mallinfo2().hblkhd - before)
libc.free(block)
"""


def mapped_bytes(mode: str, env: dict[str, str] | None = None) -> int:
    """Bytes newly mapped by one 8 MiB malloc in a fresh interpreter (``keep``: after keep_freed_memory)."""
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True)
    return int(result.stdout)


def glibc_with_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


needs_glibc = pytest.mark.skipif(not glibc_with_mallinfo2(), reason="needs glibc 2.33+ (mallinfo2)")


@needs_glibc
def test_a_large_block_comes_from_the_heap_after_keep_freed_memory():
    assert mapped_bytes("default") >= 8 << 20  # glibc's own threshold (128 KiB at start) maps it
    assert mapped_bytes("keep") == 0


@pytest.mark.parametrize(
    "env",
    [{"MALLOC_TRIM_THRESHOLD_": "131072"}, {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}],
    ids=["glibc-env", "jemalloc"],
)
def test_the_user_s_allocator_settings_win(monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert keep_freed_memory() is False
