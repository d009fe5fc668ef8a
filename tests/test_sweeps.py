"""The chapter by sweeps: book experiments, local-parallel and submitit launchers, Optuna, the report."""

import csv
import os
import re

import pytest
from helpers import BOOK, cli_overrides, run_script

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.report import write_report


def sweep(*args, cwd):
    return run_script("train.py", "-m", *args, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def book_sweep(tmp_path_factory):
    """`-m experiment=glob(book_*)` on the tiny corpus, one epoch each: the whole chapter in miniature."""
    from helpers import LYRICS

    tmp = tmp_path_factory.mktemp("book")
    corpus = tmp / "tiny.txt"
    corpus.write_text(LYRICS, encoding="utf-8")
    result = sweep("experiment=glob(book_*)", *cli_overrides(corpus, tmp), "trainer.max_epochs=1",
                   "model.num_hiddens=16", "sampler.batch_size=3", "sampler.num_steps=5", cwd=tmp)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (tmp / "multirun").iterdir()
    return sweep_dir


def test_glob_sweep_runs_all_seven_book_rows(book_sweep):
    jobs = sorted(p.name.split("_", 1)[1] for p in book_sweep.iterdir() if p.is_dir())
    expected = sorted(f"{model}_{sampler}" for model, *_, sampler, _ in BOOK.values())
    assert jobs == expected


def test_report_tables_plots_and_compares_with_the_book(book_sweep):
    table, csv_file, image, best = write_report(book_sweep)
    text = table.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "_" in line.split("|")[1]]
    assert len(rows) == 7
    for experiment, (model, *_, sampler, ppl) in BOOK.items():
        row = next(r for r in rows if r.split("|")[1].strip().endswith(f"_{model}_{sampler}"))
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[1:4] == [model, sampler, "1"], experiment
        assert float(cells[4]) > 1 and cells[5] == f"{ppl:.2f}"  # measured next to the book's figure
    assert image.read_bytes().startswith(b"\x89PNG") and image.stat().st_size > 10_000
    assert "- 分开" in text  # the last generated samples
    records = list(csv.DictReader(csv_file.read_text(encoding="utf-8").splitlines()))
    assert len(records) == 7 and {r["model"] for r in records} == {m for m, *_ in BOOK.values()}
    lowest = min(records, key=lambda r: float(r["final/train_ppl"]))
    assert f"best train_ppl: {lowest['run']} ({float(lowest['final/train_ppl']):.2f})" in best


def test_report_on_a_folder_without_runs_says_what_it_expects(tmp_path):
    with pytest.raises(LyricsError, match="no runs below"):
        write_report(tmp_path)


def test_parallel_launcher_runs_jobs_side_by_side_with_a_thread_share(tiny_corpus, tmp_path):
    result = sweep(
        "launcher=parallel", "model=scratch,lstm", *cli_overrides(tiny_corpus, tmp_path), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    logs = sorted(tmp_path.glob("multirun/*/*_random/train.log"))
    assert len(logs) == 2
    share = max(1, (os.cpu_count() or 1) // 2)
    assert all(f"torch CPU threads: {share}" in log.read_text(encoding="utf-8") for log in logs)


def test_submitit_launcher_runs_a_sweep_through_its_local_executor(tiny_corpus, tmp_path):
    result = sweep("launcher=submitit_local", "model=scratch,gru", *cli_overrides(tiny_corpus, tmp_path),
                   cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = sorted(p.parent.name for p in tmp_path.glob("multirun/*/*_random/checkpoints"))
    assert runs == ["0_scratch_random", "1_gru_random"]
    assert list(tmp_path.glob("multirun/*/.submitit/*/*_result.pkl"))


def test_optuna_search_minimises_the_validation_perplexity(tiny_corpus, tmp_path):
    overrides = [
        o for o in cli_overrides(tiny_corpus, tmp_path) if "num_hiddens" not in o and "num_steps" not in o
    ]
    result = sweep("hparams_search=lstm_optuna", "hydra.sweeper.n_trials=3", "trainer.max_epochs=1",
                   "sampler.batch_size=2", *overrides, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (results,) = tmp_path.glob("multirun/*/optimization_results.yaml")
    text = results.read_text()
    assert "name: optuna" in text and re.search(r"best_value: \d", text)
    for param in (
        "model.optimizer.lr",
        "model.num_hiddens",
        "trainer.gradient_clip_val",
        "sampler.num_steps",
    ):
        assert param in text
    assert len(list(tmp_path.glob("multirun/*/*_lstm_consecutive/checkpoints/last.ckpt"))) == 3


def test_a_failed_sweep_job_is_one_line_and_the_others_still_run(tiny_corpus, tmp_path):
    result = run_script(
        "train.py",
        "-m",
        *[o for o in cli_overrides(tiny_corpus, tmp_path) if "num_hiddens" not in o],
        "model.num_hiddens=0,16",
        "trainer.max_epochs=1",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: model.num_hiddens=0")
    assert len(list(tmp_path.glob("multirun/*/*/checkpoints/last.ckpt"))) == 1  # the good job trained
