"""A report of finished runs: a Markdown table, perplexity curves as a PNG, and the last lyrics samples.

Everything comes from the runs' own files: TensorBoard events (read with TensorBoard's reader) and
Hydra's `.hydra/` folder (model, sampler, experiment, the book's figure).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from lyrics_rnn.files import write_atomically
from lyrics_rnn.hparams import METRICS, run_params

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lyrics_rnn.errors import LyricsError


@dataclass
class Run:
    name: str
    model: str
    sampler: str
    experiment: str | None
    book_ppl: float | None
    train_ppl: list[tuple[int, float]]  # (epoch, perplexity)
    val_ppl: list[tuple[int, float]]
    test_ppl: float | None  # the best checkpoint on the test part, scored once at the end
    wall_s: float
    chars_per_s: float
    samples: str
    params: dict[str, Any]  # the settings that tell runs apart, as in TensorBoard's HParams table

    def results(self) -> dict[str, float | None]:
        """The final metrics, under the names of the HParams table (`final/...`)."""
        return {
            "train_ppl": self.train_ppl[-1][1] if self.train_ppl else None,
            "val_ppl_best": min((v for _, v in self.val_ppl), default=None),
            "val_ppl": self.val_ppl[-1][1] if self.val_ppl else None,
            "test_ppl": self.test_ppl,
            "wall_s": None if math.isnan(self.wall_s) else self.wall_s,
            "chars_per_s": None if math.isnan(self.chars_per_s) else self.chars_per_s,
        }


def find_runs(folder: Path) -> list[Path]:
    """Run folders below `folder`: those holding TensorBoard events and a Hydra config."""
    runs = {path.parent for path in folder.rglob("events.out.tfevents.*")}
    return sorted(run for run in runs if (run / ".hydra" / "config.yaml").is_file())


def damage(events_file: Path) -> str | None:
    """Where a TensorBoard event file stops being whole (cut short, or a record that fails its
    checksum), or None. TensorBoard's reader stops there without a word, so a report would show a
    damaged run as one with fewer epochs (or none)."""
    data, offset = events_file.read_bytes(), 0
    while offset < len(data):
        header = data[offset : offset + 12]
        if len(header) < 12:
            return f"cut short at byte {offset:,} of {len(data):,}"
        (length,) = struct.unpack("<Q", header[:8])
        record = data[offset + 12 : offset + 12 + length + 4]
        if len(record) < length + 4:
            return f"cut short at byte {offset:,} of {len(data):,}"
        (expected,) = struct.unpack("<I", record[length:])
        if struct.unpack("<I", header[8:])[0] != masked_crc32c(header[:8]) or expected != masked_crc32c(
            record[:length]
        ):
            return f"damaged at byte {offset:,} (a record fails its checksum)"
        offset += 12 + length + 4
    return None


def read_run(folder: Path, root: Path) -> Run:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()

    def curve(tag: str) -> list[tuple[int, float]]:
        return [(i + 1, e.value) for i, e in enumerate(events.Scalars(tag))] if tag in tags["scalars"] else []

    config = OmegaConf.load(folder / ".hydra" / "config.yaml")
    choices = OmegaConf.load(folder / ".hydra" / "hydra.yaml").hydra.runtime.choices
    train_events = events.Scalars("train/ppl") if "train/ppl" in tags["scalars"] else []
    speeds = [value for _, value in curve("time/chars_per_s")]
    samples = ""
    if "samples/text_summary" in tags["tensors"]:
        samples = events.Tensors("samples/text_summary")[-1].tensor_proto.string_val[0].decode()
    return Run(
        name=str(folder.relative_to(root)) if folder != root else folder.name,
        model=choices.get("model", "?"),
        sampler=choices.get("sampler", "?"),
        experiment=choices.get("experiment"),
        book_ppl=config.get("book_ppl"),
        train_ppl=[(i + 1, e.value) for i, e in enumerate(train_events)],
        val_ppl=curve("val/ppl"),
        test_ppl=next((value for _, value in curve("test/ppl")), None),
        wall_s=train_events[-1].wall_time - events.FirstEventTimestamp() if train_events else math.nan,
        chars_per_s=statistics.median(speeds) if speeds else math.nan,
        samples=samples,
        params=run_params(config),
    )


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def markdown(runs: list[Run], plot_name: str) -> str:
    lines = [
        "| run | model | sampler | epochs | final train ppl | book ppl | best val ppl | test ppl | wall time (s) "
        "| chars/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        results = run.results()
        lines.append(
            f"| {run.name} | {run.model} | {run.sampler} | {len(run.train_ppl)} | "
            f"{_number(results['train_ppl'])} | {_number(run.book_ppl)} | "
            f"{_number(results['val_ppl_best'])} | {_number(run.test_ppl)} | {_number(run.wall_s, 0)} | {_number(run.chars_per_s, 0)} |"
        )
    lines += ["", f"![perplexity curves]({plot_name})", "", "## Last samples", ""]
    for run in runs:
        lines += [f"**{run.name}**", "", run.samples or "(none logged)", ""]
    return "\n".join(lines)


def best_runs(runs: list[Run]) -> list[str]:
    """For each perplexity, the run with the lowest."""
    lines = []
    for metric in ("val_ppl_best", "test_ppl", "train_ppl"):
        scored = [(run.results()[metric], run.name) for run in runs if run.results()[metric] is not None]
        if scored:
            value, name = min(scored)
            lines.append(f"best {metric}: {name} ({value:.2f})")
    return lines


def csv_text(runs: list[Run]) -> str:
    """One row per run: its settings and final metrics, the columns of the HParams table."""
    buffer = io.StringIO()
    settings = dict.fromkeys(name for run in runs for name in run.params)  # every family's, in order
    columns = ["run", *settings, *(f"final/{m}" for m in METRICS)]
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for run in runs:
        results = {f"final/{name}": value for name, value in run.results().items()}
        writer.writerow({"run": run.name, **run.params, **results})
    return buffer.getvalue()


def plot(runs: list[Run], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(9, 5.5))
    for run in (run for run in runs if run.train_ppl):
        (line,) = axes.plot(*zip(*run.train_ppl, strict=True), label=f"{run.name} train")
        if run.val_ppl:
            axes.plot(*zip(*run.val_ppl, strict=True), "--", color=line.get_color(), label=f"{run.name} val")
    axes.set(yscale="log", xlabel="epoch", ylabel="perplexity", title="Perplexity per epoch")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=120))
    plt.close(figure)


def write_report(folder: Path) -> tuple[Path, Path, Path, list[str]]:
    """Writes report.md, runs.csv and perplexity.png into `folder`, for every run found below it;
    returns their paths and, per perplexity, the best run."""
    run_folders = find_runs(folder)
    if not run_folders:
        raise LyricsError(
            f"no runs below {folder}: expected run folders with TensorBoard events and a .hydra/ folder, "
            "as scripts/train.py writes them under outputs/."
        )
    for events_file in sorted(path for run in run_folders for path in run.glob("events.out.tfevents.*")):
        if (where := damage(events_file)) is not None:
            print(
                f"warning: {events_file} is {where}: its run shows only the epochs logged before that point.",
                file=sys.stderr,
            )
    runs = [read_run(run, folder) for run in run_folders]
    table, rows, image = folder / "report.md", folder / "runs.csv", folder / "perplexity.png"
    plot(runs, image)
    write_atomically(table, lambda file: file.write(markdown(runs, image.name).encode()))
    write_atomically(rows, lambda file: file.write(csv_text(runs).encode()))
    return table, rows, image, best_runs(runs)
