"""A report of finished runs: a Markdown table, perplexity curves as a PNG, and the last lyrics samples.

Everything comes from the runs' own files: TensorBoard events (read with TensorBoard's reader) and
Hydra's `.hydra/` folder (model, sampler, experiment, the book's figure).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lyrics_rnn.files import write_atomically

matplotlib.use("Agg")
import matplotlib.pyplot as plt


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


def find_runs(folder: Path) -> list[Path]:
    """Run folders below `folder`: those holding TensorBoard events and a Hydra config."""
    runs = {path.parent for path in folder.rglob("events.out.tfevents.*")}
    return sorted(run for run in runs if (run / ".hydra" / "config.yaml").is_file())


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
        best_val = min((v for _, v in run.val_ppl), default=None)
        lines.append(
            f"| {run.name} | {run.model} | {run.sampler} | {len(run.train_ppl)} | "
            f"{_number(run.train_ppl[-1][1] if run.train_ppl else None)} | {_number(run.book_ppl)} | "
            f"{_number(best_val)} | {_number(run.test_ppl)} | {_number(run.wall_s, 0)} | {_number(run.chars_per_s, 0)} |"
        )
    lines += ["", f"![perplexity curves]({plot_name})", "", "## Last samples", ""]
    for run in runs:
        lines += [f"**{run.name}**", "", run.samples or "(none logged)", ""]
    return "\n".join(lines)


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


def write_report(folder: Path) -> tuple[Path, Path]:
    """Writes report.md and perplexity.png into `folder`, for every run found below it."""
    run_folders = find_runs(folder)
    if not run_folders:
        raise FileNotFoundError(
            f"no runs below {folder}: expected run folders with TensorBoard events and a .hydra/ folder, "
            "as scripts/train.py writes them under outputs/."
        )
    runs = [read_run(run, folder) for run in run_folders]
    table, image = folder / "report.md", folder / "perplexity.png"
    plot(runs, image)
    write_atomically(table, lambda file: file.write(markdown(runs, image.name).encode()))
    return table, image
