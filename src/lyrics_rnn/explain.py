"""`run(cfg)` of scripts/explain.py: the studio's read and units views of a text, as one
self-contained HTML file to keep (no server, no Gradio)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lyrics_rnn.files import write_atomically
from lyrics_rnn.studio import Limits, Studio, bounded
from lyrics_rnn.views import page, trackers_table


def run(cfg: DictConfig) -> Path:
    """Writes cfg.out; returns its path."""
    limits = Limits(**OmegaConf.to_container(cfg.limits))
    for name, value in vars(limits).items():
        bounded(f"limits.{name}", value, 1, 10**9)
    studio = Studio([cfg.ckpt_path], cfg.device, limits, cfg.ngram_order)
    text = cfg.text or ""
    surprisal, summary = studio.read(cfg.source, text, "surprisal")
    trackers = studio.trackers(cfg.source, text)
    best = {tracker.prop: tracker for tracker in reversed(trackers)}  # the first (best) of each property
    title = f"{studio.names[0]}: {'a text' if cfg.source == 'text' else f'the {cfg.source} part'}"
    sections = [
        ("What the model expected", f"<p>{summary.replace(chr(10) * 2, '<br>')}</p>{surprisal}"),
        ("Units that track the text", trackers_table(trackers)),
        *(
            (
                f"{t.layer}, unit {t.unit}: {t.prop} (r = {t.r:+.2f})",
                studio.units(cfg.source, text, t.layer, t.unit)[0],
            )
            for t in best.values()
        ),
    ]
    out = Path(cfg.out)
    write_atomically(out, lambda file: file.write(page(title, sections).encode("utf-8")))
    print(f"wrote {out}")
    return out
