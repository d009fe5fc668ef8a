"""glibc's allocator, tuned for training loops: by default it hands large freed blocks back to the
system (munmap, heap trimming), so every step page-faults its big temporaries (logits, gradients) in
again. Keeping them mapped removes those faults; `allocator=system` leaves glibc as it is."""

from __future__ import annotations

import ctypes
import logging
import platform

from lyrics_rnn.errors import LyricsError

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h) and the values set (C ints): blocks up to 32 MiB (glibc's largest mmap
# threshold on 64-bit) come from the heap, which is trimmed only when 2 GiB lie free at its top and grows
# by at least 256 MiB at a time.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
TUNED = {M_MMAP_THRESHOLD: 32 * 2**20, M_TRIM_THRESHOLD: 2**31 - 1, M_TOP_PAD: 256 * 2**20}
ALLOCATORS = ("tuned", "system")


def use_allocator(name: str) -> bool:
    """Apply `name` ("tuned" or "system") to this process; True if glibc was tuned (Linux with glibc
    only: elsewhere the system allocator stays, silently)."""
    if name not in ALLOCATORS:
        raise LyricsError(f"allocator={name!r} is not known; use allocator=tuned or allocator=system.")
    if name == "system" or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    tuned = all(mallopt(parameter, value) == 1 for parameter, value in TUNED.items())
    if not tuned:
        log.warning("glibc refused a mallopt setting; the allocator is partly tuned")
    return tuned
