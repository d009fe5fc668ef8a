"""Text coloured character by character, as HTML: the studio's views and explain.py's file.

One fragment carries its own style, so it shows the same in the studio's page and in a saved file.
Every character is a span with its colour and, in `title` and `data-tip`, what the model thought there
(shown on hover)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from lyrics_rnn.reading import Reading
from lyrics_rnn.units import Tracker

STYLE = """<style>
.lyrics-view { white-space: pre-wrap; line-height: 1.9; font-size: 1.05rem; }
.lyrics-view span.ch { border-radius: 2px; position: relative; }
.lyrics-view span.ch:hover { outline: 1px solid #333; }
.lyrics-view span.ch:hover::after { content: attr(data-tip); position: absolute; left: 0; top: 1.7em;
  z-index: 10; background: #222; color: #fff; padding: 2px 6px; white-space: pre; font-size: 0.8rem; }
.lyrics-legend { font-size: 0.85rem; color: #555; margin-bottom: 0.4em; }
</style>"""
SURPRISE_FULL = 12.0  # bits at which a character is fully red (a 1-in-4096 guess)


def colour(value: float, signed: bool) -> str:
    """A background: white to red for surprisal (unsigned, in [0, 1]), blue for positive and orange
    for negative signed values in [-1, 1]."""
    strength = min(abs(value), 1.0)
    if not signed:
        return f"rgba(220, 40, 40, {strength:.2f})"
    return f"rgba(40, 100, 230, {strength:.2f})" if value >= 0 else f"rgba(240, 140, 20, {strength:.2f})"


def coloured(
    text: str, values: Sequence[float | None], tips: Sequence[str], signed: bool, legend: str
) -> str:
    """`text` with character i coloured by values[i] (None: left white) and tips[i] on hover."""
    spans = []
    for char, value, tip in zip(text, values, tips, strict=True):
        shown = html.escape(char)
        if value is None:
            spans.append(shown)
            continue
        tip = html.escape(tip, quote=True)
        spans.append(
            f'<span class="ch" style="background:{colour(value, signed)}" title="{tip}" data-tip="{tip}">'
            f"{shown}</span>"
        )
    return (
        f'{STYLE}<div class="lyrics-legend">{html.escape(legend)}</div>'
        f'<div class="lyrics-view">{"".join(spans)}</div>'
    )


def guesses(reading: Reading, i: int) -> str:
    """Character i + 1's surprisal and the model's top guesses there, for the hover tip."""
    top = ", ".join(
        f"{'␣' if c == ' ' else c} {p:.0%}"
        for c, p in zip(reading.top_chars[i], reading.top_probs[i], strict=True)
    )
    return f"{reading.bits[i]:.1f} bits; expected {top}"


def surprisal_view(reading: Reading, shown: int) -> str:
    """The first `shown` characters coloured by the model's surprisal, with its top guesses on hover."""
    text = reading.text[:shown]
    values = [None] + [bits / SURPRISE_FULL for bits in reading.bits[: len(text) - 1]]
    tips = [""] + [guesses(reading, i) for i in range(len(text) - 1)]
    legend = f"red: surprising (fully red at {SURPRISE_FULL:g} bits); hover a character for the model's top guesses"
    return coloured(text, values, tips, signed=False, legend=legend)


def difference_view(
    text: str, bits: np.ndarray, other_bits: np.ndarray, names: tuple[str, str], shown: int
) -> str:
    """Where model names[0] beats (blue) or loses to (orange) model names[1] on the same text: the
    second's surprisal less the first's, per character after the first, fully coloured at 4 bits."""
    text = text[:shown]
    gain = other_bits[: len(text) - 1] - bits[: len(text) - 1]
    first, second = names
    tips = [""] + [
        f"{g:+.1f} bits ({first} {b:.1f}, {second} {o:.1f})"
        for g, b, o in zip(gain, bits, other_bits, strict=False)
    ]
    legend = f"blue: {first} predicts better than {second}; orange: worse (full colour at 4 bits)"
    return coloured(text, [None] + [g / 4.0 for g in gain], tips, signed=True, legend=legend)


def unit_view(text: str, values: np.ndarray, name: str) -> str:
    """`text` coloured by one unit's activation after each character, scaled into [-1, 1] by its
    largest magnitude when that exceeds 1 (an LSTM's cell, a min-recurrence's state)."""
    scale = max(1.0, float(np.abs(values).max(initial=0.0)))
    tips = [f"{name}: {v:+.3f}" for v in values]
    legend = f"{name}: blue positive, orange negative" + (f" (scaled by 1/{scale:.2f})" if scale > 1 else "")
    return coloured(text, [float(v) / scale for v in values], tips, signed=True, legend=legend)


def trackers_table(trackers: list[Tracker]) -> str:
    """An HTML table of the units that best follow each property of the text."""
    rows = "".join(
        f"<tr><td>{html.escape(t.prop)}</td><td>{html.escape(t.layer)}</td><td>{t.unit}</td>"
        f"<td>{t.r:+.2f}</td></tr>"
        for t in trackers
    )
    return (
        '<table class="unit-trackers"><tr><th>property</th><th>layer</th><th>unit</th>'
        f"<th>r</th></tr>{rows}</table>"
    )


def page(title: str, sections: list[tuple[str, str]]) -> str:
    """A self-contained HTML file of (heading, fragment) sections."""
    body = "".join(f"<h2>{html.escape(heading)}</h2>{fragment}" for heading, fragment in sections)
    return (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'</head><body style="font-family: sans-serif; max-width: 60em; margin: auto">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
