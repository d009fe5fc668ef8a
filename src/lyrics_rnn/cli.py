"""Entry points: a user's mistake prints one `error: ...` line and exits with status 2; a bug in the
code still shows its traceback."""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import os
import re
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException, InstantiationException
from hydra.types import RunMode
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from lyrics_rnn.allocator import use_allocator
from lyrics_rnn.config import register_configs
from lyrics_rnn.errors import LyricsError

# File-system failures that a user fixes (a path, a permission, space), not the code.
USER_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.ENOSPC,
    errno.EROFS,
    errno.EDQUOT,
    errno.ENAMETOOLONG,
    errno.ENOTDIR,
}


def one_line(text: object) -> str:
    """A message on one line, without OmegaConf's object_type and Hydra's search path details."""
    lines = [line.strip() for line in str(text).split("Config search path:")[0].splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("object_type="))


def user_message(error: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug (show its traceback)."""
    if isinstance(error, InstantiationException):
        # A constructor refused its settings: its own message, and which config node it was.
        cause, (_, key, node) = error.__cause__, str(error).rpartition("full_key: ")
        if out_of_memory(cause):
            return f"{out_of_memory(cause)} (in {node.strip()})" if key else out_of_memory(cause)
        if isinstance(cause, ValueError | TypeError | ImportError | MisconfigurationException):
            inner = user_message(cause) or one_line(cause)
            return f"{inner} (in {node.strip()})" if key else inner
        return None
    if isinstance(error, LyricsError | OmegaConfBaseException | MisconfigurationException):
        return one_line(error)
    if isinstance(error, CompactHydraException):  # composition: unknown key, wrong type, missing option
        cause = error.__cause__
        message = one_line(f"{error} {cause}" if isinstance(cause, OmegaConfBaseException) else error)
        if "LexerNoViableAltException" in message and not message.isascii():
            message += """ Quote a value that is not ASCII, e.g. 'prefixes=["分开"]'."""
        return message
    if out_of_memory(error):
        return out_of_memory(error)
    if isinstance(error, ValueError) and str(error) == "No trials are completed yet.":  # Optuna's sweeper
        return "the Optuna sweep ended without a completed trial; set hydra.sweeper.n_trials to at least 1."
    if isinstance(error, OSError) and error.errno in USER_ERRNOS:
        where = f": {error.filename}" if error.filename else ""
        return (
            f"{error.strerror}{where}. Free space, or choose a writable folder in the setting that names it "
            "(paths.log_dir for runs, data.cache_dir for prepared corpora)."
        )
    if isinstance(error, FileNotFoundError | FileExistsError) and raised_in(error, ("mkdir", "makedirs")):
        return (
            f"cannot create the folder {error.filename} ({error.strerror}: a folder above it is missing, "
            "a dangling link or not a real folder); choose another in the setting that names it."
        )
    return None


def out_of_memory(error: BaseException | None) -> str | None:
    """One line for an allocation the machine cannot make (a model far too big), else None."""
    asked = re.search(r"allocate (\d+) bytes", str(error))
    if not isinstance(error, RuntimeError | MemoryError) or asked is None:
        return None
    meminfo = Path("/proc/meminfo")
    free = re.search(r"MemAvailable:\s+(\d+) kB", meminfo.read_text()) if meminfo.exists() else None
    there = f", {int(free.group(1)) / 2**20:,.1f} GB are available" if free else ""
    return (
        f"not enough memory: the model asked for {int(asked.group(1)) / 2**30:,.1f} GB at once{there}; "
        "choose smaller sizes (model.num_hiddens, model.embedding_dim, model.ensemble, sampler.batch_size)."
    )


def raised_in(error: BaseException, functions: tuple[str, ...]) -> bool:
    """Whether the innermost Python frame of the error's traceback is one of `functions`: creating a
    folder fails on a path the user gave, wherever in the libraries that happens."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    return trace is not None and trace.tb_frame.f_code.co_name in functions


def hydra_entry(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], None]]:
    """`@hydra_entry("train")` on a script's task function: Hydra's `main` over conf/<name>.yaml
    (relative to the script), with the project's configs registered and errors shown as one line."""

    def decorate(task: Callable[[DictConfig], Any]) -> Callable[[], None]:
        # Data and outputs live in the repository, whatever the working directory.
        os.environ.setdefault("PROJECT_ROOT", str(Path(inspect.getfile(task)).resolve().parents[1]))
        register_configs()

        @functools.wraps(task)
        def reported_task(cfg: DictConfig) -> Any:
            quiet_libraries()
            try:
                use_allocator(cfg.allocator)
                return task(cfg)
            except Exception as error:
                # A single run ends here, before Hydra adds its "Error executing job" line; a sweep's job
                # fails and the sweep reports it (below).
                if HydraConfig.get().mode == RunMode.RUN:
                    if user_message(error) is not None:
                        discard_unused_run(Path(HydraConfig.get().runtime.output_dir))
                    exit_on_user_error(error)
                raise

        main = hydra.main(version_base="1.3", config_path="../conf", config_name=config_name)(reported_task)

        @functools.wraps(task)
        def entry() -> None:
            # Hydra then raises errors to us instead of printing its own multi-line report.
            os.environ["HYDRA_FULL_ERROR"] = "1"
            try:
                main()
            except Exception as error:
                exit_on_user_error(error)
                raise

        return entry

    return decorate


def discard_unused_run(folder: Path) -> None:
    """A run stopped by a mistake before it wrote anything leaves no folder behind: Hydra made it, with
    only its config and the log of the error, which the console has shown."""
    entries = {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
    if ".hydra" in entries and entries <= {".hydra", "train.log"}:
        logging.shutdown()  # the log file's handler lets go of it
        shutil.rmtree(folder, ignore_errors=True)


def quiet_libraries() -> None:
    """Leave out of every job's console what a user can do nothing about: Lightning's advert for its
    cloud logger, its use of a torch API that torch 2.13 deprecates (a warning per run), and, with
    several devices, its advice to reduce the epoch metrics, which the module and EpochSpeed have
    already reduced over all devices (a `sync_dist` reduction would come later, on one device only),
    and its note that a loader list is empty, which is how the data module says a split has no
    validation or test part (`data.split=[1,0,0]`)."""
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    warnings.filterwarnings("ignore", message=r"Total length of `list` across ranks is zero")
    warnings.filterwarnings("ignore", message=r"It is recommended to use `self.log\('(train|val|test|time)/")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(not_an_advert)  # added once


def not_an_advert(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("💡 Tip")


def exit_on_user_error(error: Exception) -> None:
    """Print a user's mistake as one line and exit with status 2; return for anything else."""
    message = user_message(error)
    if message is not None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(getattr(error, "exit_status", 2))
