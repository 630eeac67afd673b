"""Keep freed tensor memory in the process instead of handing it back to the operating system.

On Linux, glibc's ``malloc`` serves large blocks with ``mmap`` and returns them with ``munmap`` when they
are freed, and gives the top of its heap back once more than a trim threshold is free. A CPU forward
pass allocates and frees the same activation buffers (megabytes each) for every batch, so each batch
pays the page faults of touching fresh pages again. Under ``torch.no_grad`` nothing keeps them alive
between layers, which makes inference the worst case. On the 2-core development CPU, ``python
bench/predict.py`` with a self-trained lesion network on HAM10000 runs the prediction loop at 11.1 to
11.9 images/s with the thresholds below against 10.1 to 10.9 with glibc's defaults (the network alone
28.4 to 31.3 against 25.0 to 28.3). PyTorch's CPU performance guide gives the same reason for
preloading jemalloc or tcmalloc; this does the glibc part without a preload.

:func:`keep_freed_memory` fixes glibc's ``mmap`` threshold at its largest allowed value (32 MiB on 64-bit
systems; blocks above it stay mapped and unmapped as before) and its trim threshold at ``trim`` bytes. It
does nothing off glibc, under another allocator named in ``LD_PRELOAD``, or when the user set either
threshold through glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` variables, which
then win. The cost is memory: up to ``trim`` bytes of freed heap stay with the process.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit systems
TRIM_THRESHOLD = 512 * 2**20


def keep_freed_memory(trim: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's ``mmap`` and trim thresholds for this process (see the module); True when they were set."""
    if not sys.platform.startswith("linux") or sys.maxsize < 2**32:
        return False
    if any(os.environ.get(name) for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    if any(name in os.environ.get("LD_PRELOAD", "") for name in ("jemalloc", "tcmalloc", "mimalloc")):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, trim))


__all__ = ["keep_freed_memory"]
