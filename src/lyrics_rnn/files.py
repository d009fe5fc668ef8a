"""Writing files so that a kill or an error never leaves a half-written one in place of a good one."""

from __future__ import annotations

import glob
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def remove_stale_partials(path: Path) -> None:
    """Delete the temporary files of writers of `path` that were killed (their process is gone): a
    killed corpus preparation would otherwise leave tens of MB behind for good."""
    for partial in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
        pid = partial.name.removeprefix(f".{path.name}.").split("-")[0]
        if pid.isdigit() and not alive(int(pid)):
            partial.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """`write` fills a temporary file beside `path`, which is flushed to disk and then renamed over it.

    The temporary name is unique (two writers of one target never share it) and starts with a dot and
    ends in `.partial`, so one left by a kill is never taken for the file itself."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    try:
        with open(partial, "xb") as file:  # exclusive: never another writer's file
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
