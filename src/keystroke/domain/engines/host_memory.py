"""Host memory the engine gives back: large buffers come straight from the system, not from malloc's arenas.

A KV slot is 10 to 30 MB of serialised state, and serving saves, restores and evicts slots all day: buffers of
that size are allocated and freed over and over, from the engine's thread. glibc's malloc serves such a request
with an mmap of its own at first, but once one is freed it raises its mmap threshold to that size (up to
32 MB), and later buffers come from the thread's arena instead, which grows to hold them and fragments: the
gateway's resident memory steps up while its live data stays the same. Fixing the threshold at 1 MiB (glibc's
`mallopt(M_MMAP_THRESHOLD)`, which also turns the adjustment off) keeps every large buffer a mapping of its
own, returned to the system the moment it is freed. glibc only (elsewhere nothing is done); a threshold the
user set with `MALLOC_MMAP_THRESHOLD_` is left alone. Process-wide, set once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20
_done = False


def keep_large_buffers_mapped(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix malloc's mmap threshold for this process; whether it was set (now or before)."""
    global _done
    if _done:
        return True
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = int(mallopt(M_MMAP_THRESHOLD, threshold)) == 1
    return _done
