"""What the tests share: paths, the tiny corpus and its overrides, composing configs, running the
scripts as a user does, reading TensorBoard events."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from lyrics_rnn.corpus import preprocessed_chunks
from lyrics_rnn.models import build_network, network_config

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
LYRICS = (
    "分开 我不要再想 我不要再想 我不 我不 我不要再想你\n不知不觉 你已经离开我\n不分开 为什么我女朋友场外加油\n"
    * 6
)

# REFERENCE.md: model, optimizer, lr, epochs, sampler, training perplexity.
BOOK = {
    "book_scratch_random": ("scratch", "SGD", 100, 250, "random", 1.30),
    "book_scratch_consecutive": ("scratch", "SGD", 100, 250, "consecutive", 1.16),
    "book_rnn_consecutive": ("rnn", "Adam", 1e-3, 250, "consecutive", 1.02),
    "book_scratch_gru_consecutive": ("scratch_gru", "SGD", 100, 160, "consecutive", 1.44),
    "book_gru_consecutive": ("gru", "Adam", 1e-2, 160, "consecutive", 1.02),
    "book_scratch_lstm_consecutive": ("scratch_lstm", "SGD", 100, 160, "consecutive", 4.27),
    "book_lstm_consecutive": ("lstm", "Adam", 1e-2, 160, "consecutive", 1.02),
}


def tiny_overrides(corpus: Path, out: Path) -> list[str]:
    """A run of seconds: small corpus, small network, two epochs, a sample every epoch; every default
    callback, the progress bar and the logger stay on."""
    return [
        f"data.path={corpus}",
        "data.url=null",
        "data.num_sample=null",
        "data.split=[0.8,0.2,0]",
        f"paths.data_dir={out / 'data'}",
        f"paths.log_dir={out}",
        f"paths.output_dir={out}",
        "sampler.batch_size=3",
        "sampler.num_steps=5",
        "model.num_hiddens=16",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "trainer.enable_model_summary=false",
        "callbacks.lyrics_samples.pred_period=1",
        "callbacks.lyrics_samples.pred_len=8",
    ]


def cli_overrides(corpus: Path, out: Path) -> list[str]:
    """The tiny overrides, with output folders left to Hydra (named by time, model and sampler)."""
    return [o for o in tiny_overrides(corpus, out) if not o.startswith("paths.output_dir")]


def free_port() -> int:
    """A TCP port of this machine that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_text(path: Path, **options: Any) -> str:
    """A corpus file preprocessed, as one string (`corpus.preprocessed_chunks` takes the options)."""
    return "".join(chunk.tobytes().decode("utf-32-le") for chunk in preprocessed_chunks(path, **options))


def network(vocab_size: int, **settings: Any) -> nn.Module:
    """The network these settings describe (`cell` and the settings of its Config)."""
    return build_network(network_config(**settings), vocab_size)


def compose_config(name: str, *overrides: str, resolve: bool = True) -> DictConfig:
    """conf/<name>.yaml with overrides, as Hydra's compose API builds it (and resolved)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides))
    if resolve:
        OmegaConf.resolve(cfg)
    return cfg


class WarmInterpreter:
    """tests/warm.py, started once: runs each script in a process of its own forked from an interpreter
    that has imported the libraries already (a run then starts in milliseconds instead of ~4 s)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def run(
        self, command: list[str], cwd: Path, env: dict[str, str], timeout: int
    ) -> subprocess.CompletedProcess:
        """`command` ([python, script, *args]) run as a forked child of the warm interpreter."""
        files = Path(tempfile.mkdtemp(prefix="run-"))
        request = {
            "script": command[1], "args": command[2:], "cwd": str(cwd), "env": env,
            **{name: str(files / name) for name in ("stdout", "stderr", "status")},
        }  # fmt: skip
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self.process = subprocess.Popen(
                    [sys.executable, str(ROOT / "tests" / "warm.py")], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, text=True, cwd=ROOT,
                )  # fmt: skip
                atexit.register(self.process.kill)
                assert self.process.stdout.readline().strip() == "ready"
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            pid = int(self.process.stdout.readline())
        status, deadline = files / "status", time.monotonic() + timeout
        while not status.exists():
            if time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(command, timeout)
            time.sleep(0.02)
        code = int(status.read_text())
        output = {name: (files / name).read_text(encoding="utf-8") for name in ("stdout", "stderr")}
        shutil.rmtree(files)
        return subprocess.CompletedProcess(command, code, **output)


WARM = WarmInterpreter()


def run_script(
    script: str, *args: str, cwd: Path, timeout: int = 300, fresh: bool = False
) -> subprocess.CompletedProcess:
    """scripts/<script> as a user runs it, in a process of its own; the timeout is the watchdog against
    a hang. `fresh`: a new interpreter (`python scripts/<script> ...`), else one forked warm (warm.py)."""
    command = [sys.executable, str(ROOT / "scripts" / script), *args]
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    if not fresh:
        return WARM.run(command, cwd, env, timeout)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def events(run_dir: Path) -> EventAccumulator:
    """Everything TensorBoard would show for one run folder, read with TensorBoard's own reader."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator
