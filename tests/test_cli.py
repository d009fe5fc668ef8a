"""The command line as a user types it, in subprocesses; a user's mistake as one line (cli.py)."""

import errno
import functools
import os
import signal
import subprocess
import sys

import pytest
from helpers import LYRICS, ROOT, cli_overrides, events, free_port, run_script

from lyrics_rnn.cli import user_message

SCRIPT = str(ROOT / "scripts" / "train.py")


run = functools.partial(run_script, "train.py")


def test_single_run_gets_its_own_named_folder(tiny_corpus, tmp_path):
    # A new interpreter, as a user starts it (the other runs here fork a warm one: tests/warm.py).
    result = run(
        *cli_overrides(tiny_corpus, tmp_path), "model=gru", "sampler=consecutive", cwd=tmp_path, fresh=True
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = tmp_path.glob("*_gru_consecutive")
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "train.log").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert "samples" in (run_dir / "train.log").read_text(encoding="utf-8")
    # The libraries' notes that a user can do nothing about are left out of the console.
    assert "💡 Tip" not in result.stderr + result.stdout and "LeafSpec" not in result.stderr


def test_multirun_runs_each_job_in_its_own_folder(tiny_corpus, tmp_path):
    result = run(
        "-m",
        *cli_overrides(tiny_corpus, tmp_path),
        "model=scratch,lstm",
        "sampler=random",
        "trainer.max_epochs=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    jobs = sorted(p.name for p in tmp_path.glob("multirun/*/*_*_random"))
    assert jobs == ["0_scratch_random", "1_lstm_random"]
    for job in tmp_path.glob("multirun/*/*_*_random"):
        assert (job / "checkpoints" / "last.ckpt").is_file()


def curves(run_dir):
    """Per-epoch train/ppl and val/ppl of a run, as TensorBoard shows them."""
    accumulator = events(run_dir)
    return {tag: [e.value for e in accumulator.Scalars(tag)] for tag in ("train/ppl", "val/ppl")}


@pytest.mark.parametrize(("model", "sampler"), [("lstm", "consecutive"), ("transformer", "random")])
def test_ddp_with_every_default_matches_one_process_and_resumes(tiny_corpus, tmp_path, model, sampler):
    """The default callbacks, progress bar and loggers on, under a watchdog: two CPU processes give
    one process's perplexities (held-out read as 2 streams by both), also after resuming. (Without
    dropout: each process draws the masks of its own rows.)"""
    args = [
        *cli_overrides(tiny_corpus, tmp_path),
        f"model={model}",
        f"sampler={sampler}",
        "sampler.batch_size=4",
        "model.dropout=0",
    ]
    args += ["data.val_batch_size=2", "trainer.accelerator=cpu"]
    one, two, resumed = tmp_path / "one", tmp_path / "two", tmp_path / "resumed"
    for out, extra in [
        (one, ["trainer=cpu", "trainer.max_epochs=3"]),
        (two, ["trainer=ddp"]),
        (resumed, ["trainer=ddp", "trainer.max_epochs=3", f"ckpt_path={two / 'checkpoints' / 'last.ckpt'}"]),
    ]:
        result = run(*args, *extra, f"hydra.run.dir={out}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "It is recommended to use `self.log(" not in result.stderr  # the metrics are reduced already
    single, ddp, after = curves(one), curves(two), curves(resumed)
    assert len(single["train/ppl"]) == 3 and len(ddp["val/ppl"]) == 2 and len(after["train/ppl"]) == 1
    for tag in single:
        assert ddp[tag] + after[tag] == pytest.approx(single[tag], rel=1e-5)
    assert (two / "checkpoints" / "last.ckpt").is_file() and "samples" in (two / "train.log").read_text()


def test_ddp_fails_fast_when_a_rank_stalls(tiny_corpus, tmp_path):
    """Rank 1 stalls for a minute while rank 0 waits in a collective: the process-group timeout
    (15 s here) ends the run with an error naming the wait, long before the stall would."""
    args = [
        *cli_overrides(tiny_corpus, tmp_path),
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "sampler.batch_size=4",
        "trainer.strategy.timeout.seconds=15",  # room for two start-ups on a loaded machine
        "+callbacks.fault._target_=ddp_faults.StalledRank",
        f"hydra.run.dir={tmp_path / 'out'}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "faults")}
    log = tmp_path / "stderr.txt"
    # A file, not a pipe: the stalled rank outlives the launcher and would hold a pipe open.
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, SCRIPT, *args], cwd=tmp_path, env=env, stderr=stderr,
                                   stdout=subprocess.DEVNULL)  # fmt: skip
        assert process.wait(timeout=55) != 0
    assert "Timed out waiting 15000ms" in log.read_text()


def node_environments(kind: str) -> list[dict[str, str]]:
    """What a cluster sets for each of two nodes of one process: Lightning's own variables (as torchrun
    or a hand-written launcher sets them), or SLURM's for a 2-node job of one task per node."""
    if kind == "lightning":
        port = str(free_port())
        return [
            {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "NODE_RANK": str(r), "LOCAL_RANK": "0"}
            for r in (0, 1)
        ]
    job = str(free_port())  # Lightning derives the port from the job id's last digits
    return [
        {"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "1", "SLURM_NNODES": "2", "SLURM_PROCID": str(r),
         "SLURM_LOCALID": "0", "SLURM_NODEID": str(r), "SLURM_JOB_ID": job, "SLURM_JOB_NAME": "lyrics",
         "SLURM_NODELIST": "localhost"}
        for r in (0, 1)
    ]  # fmt: skip


def run_nodes(args: list[str], kind: str, cwd, timeout: int = 150) -> list[tuple[int, str]]:
    """scripts/train.py started once per node, as a cluster starts it; each node's status and stderr."""
    logs = [cwd / f"node{rank}.stderr" for rank in (0, 1)]
    processes = []
    for log, env in zip(logs, node_environments(kind), strict=True):
        with log.open("w") as stderr:
            env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "faults"), **env}
            processes.append(subprocess.Popen([sys.executable, SCRIPT, *args], cwd=cwd, env=env, stderr=stderr,
                                              stdout=subprocess.DEVNULL))  # fmt: skip
    return [
        (process.wait(timeout=timeout), log.read_text()) for process, log in zip(processes, logs, strict=True)
    ]


TWO_NODES = ["trainer=ddp", "trainer.devices=1", "trainer.num_nodes=2", "trainer.accelerator=cpu"]


NODE_ARGS = [
    "model=lstm",
    "sampler=consecutive",
    "sampler.batch_size=4",
    "model.dropout=0",
    "data.val_batch_size=2",
]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The reference for the two-node runs: one process, three epochs; its curves."""
    tmp = tmp_path_factory.mktemp("one")
    (corpus := tmp / "tiny.txt").write_text(LYRICS, encoding="utf-8")
    args = [*cli_overrides(corpus, tmp), *NODE_ARGS, "trainer=cpu", "trainer.max_epochs=3"]
    single = run(*args, f"hydra.run.dir={tmp / 'one'}", cwd=tmp)
    assert single.returncode == 0, single.stderr[-3000:]
    return curves(tmp / "one")


@pytest.mark.parametrize("kind", ["lightning", "slurm"])
def test_two_nodes_of_one_process_each_match_one_process(tiny_corpus, tmp_path, one_process, kind):
    """Lightning's variables: two epochs, then resumed for the third; SLURM's: two epochs."""
    args = [*cli_overrides(tiny_corpus, tmp_path), *NODE_ARGS, *TWO_NODES]
    two, resumed = tmp_path / "two", tmp_path / "resumed"
    legs = [(two, [])] + [
        (resumed, ["trainer.max_epochs=3", f"ckpt_path={two / 'checkpoints' / 'last.ckpt'}"])
    ] * (kind == "lightning")
    for out, extra in legs:
        for status, stderr in run_nodes([*args, *extra, f"hydra.run.dir={out}"], kind, tmp_path):
            assert status == 0, stderr[-3000:]
            assert "MEMBER: " in stderr and "/2" in stderr  # one process group of two
    nodes = curves(two)
    after = curves(resumed) if kind == "lightning" else {tag: [] for tag in nodes}
    assert len(nodes["train/ppl"]) == 2 and len(after["train/ppl"]) == (1 if kind == "lightning" else 0)
    for tag, expected in one_process.items():
        assert nodes[tag] + after[tag] == pytest.approx(expected[: len(nodes[tag] + after[tag])], rel=1e-5)


def test_a_node_that_dies_ends_the_other_with_one_line(tiny_corpus, tmp_path):
    args = [*cli_overrides(tiny_corpus, tmp_path), *TWO_NODES, "trainer.max_epochs=3", "sampler.batch_size=4"]
    args += ["trainer.strategy.timeout.seconds=15", "+callbacks.fault._target_=ddp_faults.DyingNode"]
    (status, stderr), (killed, _) = run_nodes(
        [*args, f"hydra.run.dir={tmp_path / 'out'}"], "lightning", tmp_path, 60
    )
    assert killed == -signal.SIGKILL and status == 1
    assert "error: another process of this run stopped answering (" in stderr and "Traceback" not in stderr
    assert (tmp_path / "out" / "checkpoints" / "last.ckpt").is_file()  # epoch 1, to resume from


def test_unknown_model_lists_the_choices(tmp_path):
    result = run("model=nope", cwd=tmp_path)
    assert result.returncode != 0
    assert "Could not find 'model/nope'" in result.stderr
    assert all(name in result.stderr for name in ("scratch", "rnn", "gru", "lstm"))


def test_bidirectional_is_refused_at_composition(tiny_corpus, tmp_path):
    """A bidirectional RNN would see the next character: the model's schema has no such key."""
    result = run(
        *cli_overrides(tiny_corpus, tmp_path), "model=lstm", "model.bidirectional=true", cwd=tmp_path
    )
    assert result.returncode == 2 and "Key 'bidirectional' not in 'CharLMWithEmbeddedConfig'" in result.stderr


def test_a_warm_run_is_what_a_new_interpreter_gives(tmp_path):
    """tests/warm.py's forked runs against `python scripts/train.py`: the same output and exit status."""
    for args in (["seed=-1"], ["--cfg", "job", "model=lstm"]):
        warm, fresh = (run(*args, cwd=tmp_path, fresh=new) for new in (False, True))
        assert (warm.returncode, warm.stdout, warm.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
        assert warm.stdout or warm.stderr.startswith("error: seed=-1")


def test_a_split_without_validation_trains_without_lightnings_empty_loader_note(tiny_corpus, tmp_path):
    result = run(
        *cli_overrides(tiny_corpus, tmp_path),
        "data.split=[1,0,0]",
        "optimized_metric=train/ppl",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "train/ppl=" in result.stdout + result.stderr
    assert "Total length of `list`" not in result.stderr  # an empty list is how "no part" is said


def test_runs_started_together_keep_their_own_folders(tiny_corpus, tmp_path):
    args = [sys.executable, str(ROOT / "scripts" / "train.py"), *cli_overrides(tiny_corpus, tmp_path)]
    runs = [subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()
    folders = list(tmp_path.glob("*_scratch_random"))
    assert len(folders) == 2
    assert all((folder / "checkpoints" / "last.ckpt").is_file() for folder in folders)


def test_a_run_folder_used_again_is_refused_and_the_earlier_run_kept(tiny_corpus, tmp_path):
    folder = tmp_path / "mine"
    first = run(*cli_overrides(tiny_corpus, tmp_path), f"hydra.run.dir={folder}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    kept = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    again = run(*cli_overrides(tiny_corpus, tmp_path), f"hydra.run.dir={folder}", "model=gru", cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert f"error: {folder} is the folder of another run (process " in again.stderr
    assert f"resume: ckpt_path={folder}/checkpoints/last.ckpt" in again.stderr
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == kept  # config too


def test_runs_started_together_into_one_folder_leave_it_to_one(tiny_corpus, tmp_path):
    folder = tmp_path / "shared"
    args = [SCRIPT, *cli_overrides(tiny_corpus, tmp_path), f"paths.output_dir={folder}"]
    runs = [
        subprocess.Popen([sys.executable, *args], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    codes = sorted(r.wait(timeout=300) for r in runs)
    errors = "".join(r.stderr.read() for r in runs)
    assert codes == [0, 2] and "is the folder of another run" in errors
    assert (folder / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/full/run"), "No space left on device: /full/run"),
        (PermissionError(errno.EACCES, "Permission denied", "/ro/outputs"), "Permission denied: /ro/outputs"),
    ],
)
def test_a_refusing_file_system_is_a_user_error(error, expected):
    assert user_message(error).startswith(expected)
    assert user_message(RuntimeError("a bug")) is None  # a bug keeps its traceback
