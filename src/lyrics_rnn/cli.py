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
import time
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
    if lost_peer(error):
        return lost_peer(error)
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


PEER_LOST = re.compile(r"Connection (closed|reset) by peer|Timed out waiting \d+ms|Broken pipe")


def lost_peer(error: BaseException) -> str | None:
    """One line for a collective that another process of the run never joined (it died, was killed, or
    stalled past trainer.strategy.timeout), else None: that process's own log says why."""
    found = PEER_LOST.search(str(error))
    if not isinstance(error, RuntimeError) or found is None:
        return None
    return (
        f"another process of this run stopped answering ({found.group(0)}): a node or device died, was "
        "killed or stalled; its own log says why. Resume with ckpt_path=<run>/checkpoints/last.ckpt."
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
                refuse_unknown_additions(config_name)
                if config_name == "train" and not a_later_rank():
                    claim_run_folder(Path(cfg.paths.output_dir))
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
                if config_name == "train" and not a_later_rank():  # before Hydra writes into another's folder
                    for folder in given_run_folders(sys.argv[1:]):
                        refuse_claimed(folder)
                main()
            except Exception as error:
                exit_on_user_error(error)
                raise

        return entry

    return decorate


CLAIM = ".lyrics-run"  # in a run folder: the run that owns it (its process and start time)


def a_later_rank() -> bool:
    """A process that Lightning (or a launcher: torchrun, SLURM) started for another device or node of
    the run: it joins the run's folder, which the first process has claimed."""
    return any(
        os.environ.get(name, "0") != "0" for name in ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID")
    )


def given_run_folders(args: list[str]) -> list[Path]:
    """The run folders named on the command line (`hydra.run.dir=`, `paths.output_dir=`)."""
    keys = ("hydra.run.dir=", "paths.output_dir=")
    return [Path(arg.split("=", 1)[1]) for arg in args if arg.startswith(keys) and "$" not in arg]


def refuse_claimed(folder: Path) -> None:
    if (folder / CLAIM).exists():
        raise LyricsError(
            f"{folder} is the folder of another run ({(folder / CLAIM).read_text().strip()}); a run never "
            "writes over another's checkpoints and logs. Leave hydra.run.dir out (every run gets a new "
            f"folder) or name a new one; to continue that run, resume: ckpt_path={folder}/checkpoints/last.ckpt."
        )


def claim_run_folder(folder: Path) -> None:
    """Make `folder` this run's, atomically: a run started earlier, or at the same moment, into the same
    folder (an explicit hydra.run.dir) keeps it, and this one stops with a line saying so."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(folder / CLAIM, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        refuse_claimed(folder)
        raise
    with os.fdopen(descriptor, "w") as claim:
        claim.write(f"process {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")


def refuse_unknown_additions(config_name: str) -> None:
    """Hydra's `+key=value` adds a key even where the schema has none, and nothing would read it: a
    misspelt setting would be silently ignored. Only new callbacks and loggers of train.py are added."""
    for override in HydraConfig.get().overrides.task:
        if override.startswith("+") and not override.startswith("~"):
            key = override.lstrip("+").split("=", 1)[0]
            if not (config_name == "train" and key.startswith(("callbacks.", "logger.", "hydra."))):
                raise LyricsError(
                    f"{override}: {key} is not a setting of {config_name}.py, so nothing would read it; "
                    f"check its spelling (python scripts/{config_name}.py --cfg job lists the settings)."
                )


def discard_unused_run(folder: Path) -> None:
    """A run stopped by a mistake before it wrote anything leaves no folder behind: Hydra made it, with
    only its config and the log of the error, which the console has shown."""
    entries = {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
    claim = folder / CLAIM
    ours = not claim.is_file() or claim.read_text().startswith(f"process {os.getpid()},")
    if ours and ".hydra" in entries and entries <= {".hydra", "train.log", CLAIM}:
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
        sys.exit(getattr(error, "exit_status", 1 if lost_peer(error) else 2))  # 1: not the user's mistake
