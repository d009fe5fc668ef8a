"""`run(cfg)` of scripts/studio.py: a local web page to write with a model (the lyrics stream in), read
what it predicts (surprisal, top guesses, against the n-gram or adapted) and see what its units track.

`Studio` does the work and knows nothing of the web; `page` lays it out with Gradio (the optional
`studio` extra), which also gives every action an HTTP API (`gradio_client`)."""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from lyrics_rnn.adapt import ADAPTATIONS, adapted_probs
from lyrics_rnn.checkpoint import load_model, training_parts
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.kneser_ney import KneserNey
from lyrics_rnn.module import CharLM
from lyrics_rnn.prepare import Parts
from lyrics_rnn.reading import UNKNOWN, read
from lyrics_rnn.sampling import check_sampling, copy_rate, stream
from lyrics_rnn.units import Tracker, activations, rank_units, state_layers
from lyrics_rnn.views import difference_view, surprisal_view, trackers_table, unit_view

SOURCES = {"text": "the text below", "val": "validation part", "test": "test part"}
VIEWS = {"surprisal": "surprisal", "ngram": "network vs n-gram", "adapted": "adapted vs static"}
STREAM_EVERY = 0.05  # seconds between two streamed updates of the page


@dataclass
class Limits:
    """What one request may ask for: a clear refusal instead of a request that runs for minutes."""

    num_chars: int = 5000  # characters per sample
    num_samples: int = 8  # samples per request
    read_chars: int = 200_000  # characters scored by a read
    unit_chars: int = 5000  # characters stepped through by the units view (one network step each)
    shown_chars: int = 20_000  # characters coloured in a view (a read scores them all)


def bounded(name: str, value: float, low: int, high: int) -> int:
    if value is None or not low <= value <= high or value != int(value):
        raise LyricsError(f"{name}={value} must be a whole number in {low}..{high:,}.")
    return int(value)


def known_text(model: CharLM, text: str) -> tuple[str, str]:
    """A text as a model reads it, and a note on the characters outside its vocabulary: read as <unk>
    where the vocabulary has it, else left out. Line breaks are spaces, as in the corpus."""
    text = re.sub(r"\r\n|\r|\n", " ", text)
    unknown = model.vocab.unknown(text)
    if not unknown:
        return text, ""
    if model.vocab.unk is not None:
        return text, f"{unknown[:20]!r} not in the vocabulary: read as <unk>."
    return "".join(
        char for char in text if char not in unknown
    ), f"{unknown[:20]!r} not in the vocabulary: left out."


class Studio:
    """One model, or two to compare, loaded once and shared by every request (no gradients, so
    concurrent requests only read them); the corpus parts and the n-gram are built on first use."""

    def __init__(self, ckpt_paths: list[str], device: str, limits: Limits, ngram_order: int = 6) -> None:
        self.paths = [Path(path) for path in ckpt_paths]
        self.models = [load_model(path, device) for path in self.paths]
        self.names = [f"{path.parent.parent.name}/{path.name}" for path in self.paths]
        self.limits, self.ngram_order = limits, ngram_order
        self._lock = threading.Lock()
        self._parts: dict[int, Parts] = {}
        self._ngram: KneserNey | None = None
        model = self.models[0]
        with torch.no_grad():
            _, state = model.net(torch.zeros(1, 1, dtype=torch.long, device=model.device), None)
        self.layers = {name: len(vector) for name, vector in state_layers(state).items()}

    def parts(self, index: int = 0) -> Parts:
        with self._lock:
            if index not in self._parts:
                self._parts[index] = training_parts(self.paths[index])
            return self._parts[index]

    def ngram(self) -> KneserNey:
        train = self.parts()["train"]
        with self._lock:
            if self._ngram is None:
                self._ngram = KneserNey(train.tolist(), len(self.models[0].vocab), self.ngram_order)
            return self._ngram

    def write(
        self,
        prefix: str,
        num_chars: float,
        temperature: float,
        top_k: float | None,
        seed: float,
        num_samples: float,
    ) -> Iterator[tuple[str, ...]]:
        """Yields (each model's samples so far, notes) as they are drawn; each model draws from its
        own generator seeded with `seed`, so each writes what generate.py writes with these settings."""
        num_chars = bounded("num_chars", num_chars, 0, self.limits.num_chars)
        num_samples = bounded("num_samples", num_samples, 1, self.limits.num_samples)
        top_k = None if not top_k else bounded("top_k", top_k, 1, 10**9)
        check_sampling(temperature, top_k)
        seed = bounded("seed", seed, 0, 2**63 - 1)
        if not prefix:
            raise LyricsError("the prefix is empty: write at least one character to continue.")
        notes, samples, currents, streams = [], [], [], []
        for name, model in zip(self.names, self.models, strict=True):
            shown, note = known_text(model, prefix)
            if not shown:
                raise LyricsError(f"no character of the prefix is in the vocabulary of {name}.")
            notes += [f"{name}: {note}"] if note else []
            samples.append([])
            currents.append([])
            generator = torch.Generator(model.device).manual_seed(seed)
            settings = (num_chars, temperature, top_k, generator)
            streams.append(self._samples(model, shown, num_samples, settings, samples[-1], currents[-1]))

        def texts() -> list[str]:
            return [
                "\n\n".join([*done, *(["".join(now)] if now else [])])
                for done, now in zip(samples, currents, strict=True)
            ]

        last = 0.0
        for count, _ in enumerate(itertools.zip_longest(*streams)):
            if count == 1 or time.perf_counter() - last >= STREAM_EVERY:  # 1: the first character drawn
                yield (*texts(), "\n\n".join(notes))
                last = time.perf_counter()
        yield (*texts(), "\n\n".join(notes + self._copy_rates(samples)))

    @staticmethod
    def _samples(
        model: CharLM, prefix: str, num_samples: int, settings: tuple, done: list[str], current: list[str]
    ) -> Iterator[None]:
        """Draws the samples, a step per character: the one being written is `current` (its characters),
        the finished ones go to `done`."""
        for _ in range(num_samples):
            current[:] = [prefix]
            yield
            for char in stream(model.net, model.vocab, prefix, *settings):
                current.append(char)
                yield
            done.append("".join(current))
            current.clear()

    def _copy_rates(self, samples: list[list[str]]) -> list[str]:
        """Per model, each sample's share of 10-character windows found verbatim in its training text."""
        lines = []
        for index, (name, model) in enumerate(zip(self.names, self.models, strict=True)):
            try:
                train = model.vocab.decode(self.parts(index)["train"].tolist(), unk=UNKNOWN)
            except LyricsError as error:
                lines.append(f"{name}: no copy rate ({error})")
                continue
            rates = [f"{copy_rate([s], train):.2f}" if len(s) >= 10 else "-" for s in samples[index]]
            lines.append(f"{name}: copy rate of each sample {', '.join(rates)}")
        return lines

    def text_of(self, source: str, text: str, limit: int) -> tuple[torch.Tensor, str, str]:
        """The ids to read (the text given, or a held-out part of the checkpoint's corpus), at most
        `limit` characters of them, the text as read and a note."""
        if source not in SOURCES:
            raise LyricsError(f"source={source!r} is not known; use one of {', '.join(SOURCES)}.")
        model = self.models[0]
        if source == "text":
            if len(text) > limit:
                raise LyricsError(
                    f"the text has {len(text):,} characters; at most {limit:,} are read at once."
                )
            text, note = known_text(model, text)
            ids = model.vocab.encode(text).tolist()
        else:
            ids, note = self.parts()[source].tolist(), ""
            if len(ids) > limit:
                ids, note = ids[:limit], f"the first {limit:,} of its {len(ids):,} characters."
        if len(ids) < 2:
            raise LyricsError("the text needs at least two known characters: one to read, one to predict.")
        return torch.tensor(ids), model.vocab.decode(ids, unk=UNKNOWN), note

    def read(self, source: str, text: str, view: str, adapt: str = "ngram") -> tuple[str, str]:
        """(the view's HTML, a summary): every character coloured by the network's surprisal, or by
        its gain over the n-gram or of the adapted network over the static one."""
        if view not in VIEWS:
            raise LyricsError(f"view={view!r} is not known; use one of {', '.join(VIEWS)}.")
        ids, _, note = self.text_of(source, text, self.limits.read_chars)
        model, shown = self.models[0], self.limits.shown_chars
        reading = read(model.net, model.vocab, ids)
        lines = [
            f"{len(ids):,} characters: perplexity {reading.perplexity:.4f}, "
            f"{reading.bits_per_char:.3f} bits per character",
            note,
        ]
        if view == "surprisal":
            fragment = surprisal_view(reading, shown)
        elif view == "ngram":
            ngram_bits = -np.log2(self.ngram().target_probs(ids.tolist()))
            lines.append(f"{self.ngram_order}-gram: perplexity {2 ** ngram_bits.mean():.4f}")
            names = ("the network", f"the {self.ngram_order}-gram")
            fragment = difference_view(reading.text, reading.bits, ngram_bits, names, shown)
        else:
            if adapt not in ADAPTATIONS or adapt == "none":
                raise LyricsError(
                    f"adapt={adapt!r} is not an adaptation; use one of {', '.join(ADAPTATIONS[1:])}."
                )
            val = torch.from_numpy(self.parts()["val"].astype("int64"))
            probs, chosen = adapted_probs(model.net, self.ngram(), val, ids, adapt)
            adapted_bits = -np.log2(probs)
            lines.append(f"adapt={adapt} ({chosen}): perplexity {2 ** adapted_bits.mean():.4f}")
            fragment = difference_view(reading.text, adapted_bits, reading.bits, ("adapted", "static"), shown)
        if len(reading.text) > shown:
            lines.append(f"the first {shown:,} characters are coloured.")
        return fragment, "\n\n".join(line for line in lines if line)

    @functools.lru_cache(maxsize=4)  # noqa: B019 (the studio lives as long as the process)
    def _activations(self, source: str, text: str) -> tuple[str, dict[str, np.ndarray], str]:
        ids, read_text, note = self.text_of(source, text, self.limits.unit_chars)
        return read_text, activations(self.models[0].net, ids), note

    def trackers(self, source: str, text: str) -> list[Tracker]:
        """The units that best track simple properties of the text (see `rank_units`)."""
        read_text, layers, _ = self._activations(source, text)
        return rank_units(layers, read_text)

    def units(self, source: str, text: str, layer: str, unit: float) -> tuple[str, str, str]:
        """(the text coloured by one unit's activation, the table of `trackers`, a note)."""
        if layer not in self.layers:
            raise LyricsError(
                f"layer={layer!r} is not a layer of this network; use one of {list(self.layers)}."
            )
        unit = bounded("unit", unit, 0, self.layers[layer] - 1)
        read_text, layers, note = self._activations(source, text)
        fragment = unit_view(read_text, layers[layer][:, unit], f"{layer}, unit {unit}")
        return fragment, trackers_table(self.trackers(source, text)), note


def gradio() -> ModuleType:
    """Gradio, which the `studio` extra installs; its usage reports off (this page is local)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        return importlib.import_module("gradio")
    except ImportError as error:
        raise LyricsError(
            "the studio needs Gradio: pip install -e '.[studio]' (or make studio CKPT=<checkpoint>)."
        ) from error


def shown_to_user(handler: Callable) -> Callable:
    """A LyricsError inside a request becomes Gradio's error popup (and the API's error message);
    the server goes on serving."""
    gr = gradio()
    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streamed(*args: Any) -> Iterator:
            try:
                yield from handler(*args)
            except LyricsError as error:
                raise gr.Error(str(error)) from error

        return streamed

    @functools.wraps(handler)
    def answered(*args: Any) -> Any:
        try:
            return handler(*args)
        except LyricsError as error:
            raise gr.Error(str(error)) from error

    return answered


def page(studio: Studio) -> Any:
    """The studio's page: Write, Read and Units tabs."""
    gr = gradio()
    limits = studio.limits
    with gr.Blocks(title="lyrics studio") as blocks:
        gr.Markdown(f"# lyrics studio\n{' · '.join(studio.names)}")
        with gr.Tab("Write"):
            prefix = gr.Textbox("分开", label="prefix", elem_id="prefix")
            with gr.Row():
                num_chars = gr.Slider(0, limits.num_chars, value=100, step=1, label="characters")
                temperature = gr.Slider(0, 2, value=0.8, step=0.05, label="temperature (0: greedy)")
                top_k = gr.Number(0, precision=0, label="top-k (0: all)")
                seed = gr.Number(0, precision=0, label="seed")
                num_samples = gr.Slider(1, limits.num_samples, value=1, step=1, label="samples")
            write = gr.Button("Write", variant="primary", elem_id="write")
            with gr.Row():
                lyrics = [
                    gr.Textbox(label=name, lines=10, elem_id=f"lyrics-{index}")
                    for index, name in enumerate(studio.names)
                ]
            notes = gr.Markdown(elem_id="write-notes")
            write.click(
                shown_to_user(studio.write),
                [prefix, num_chars, temperature, top_k, seed, num_samples],
                [*lyrics, notes],
                api_name="write",
            )
        sources = [(label, value) for value, label in SOURCES.items()]
        with gr.Tab("Read"):
            with gr.Row():
                source = gr.Radio(sources, value="text", label="read")
                view = gr.Radio(
                    [(label, value) for value, label in VIEWS.items()], value="surprisal", label="view"
                )
                adapt = gr.Dropdown(list(ADAPTATIONS[1:]), value="ngram", label="adapt (adapted vs static)")
            text = gr.Textbox("分开 不分开 我不能再想 我不能再想", lines=5, label="text", elem_id="read-text")
            read_button = gr.Button("Read", variant="primary", elem_id="read")
            summary = gr.Markdown(elem_id="read-summary")
            view_html = gr.HTML(elem_id="read-view")
            read_button.click(
                shown_to_user(studio.read), [source, text, view, adapt], [view_html, summary], api_name="read"
            )
        with gr.Tab("Units"):
            with gr.Row():
                unit_source = gr.Radio(sources, value="text", label="read")
                layer = gr.Dropdown(list(studio.layers), value=next(iter(studio.layers)), label="layer")
                unit = gr.Number(0, precision=0, label="unit")
            unit_text = gr.Textbox(
                "分开 不分开 我不能再想 我不能再想", lines=5, label="text", elem_id="unit-text"
            )
            units_button = gr.Button("Show", variant="primary", elem_id="units")
            unit_note = gr.Markdown()
            unit_html = gr.HTML(elem_id="unit-view")
            trackers = gr.HTML(elem_id="unit-trackers")
            units_button.click(
                shown_to_user(studio.units),
                [unit_source, unit_text, layer, unit],
                [unit_html, trackers, unit_note],
                api_name="units",
            )
    return blocks


def serve(studio: Studio, host: str, port: int, queue_size: int, concurrency: int) -> Any:
    """Start the page in the background; returns it (`.close()` stops it)."""
    blocks = page(studio)
    blocks.queue(max_size=queue_size, default_concurrency_limit=concurrency)
    try:
        blocks.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            ssr_mode=False,
            show_error=True,
        )
    except OSError as error:
        raise LyricsError(f"cannot serve on {host}:{port} ({error}); pass port=<a free port>.") from error
    return blocks


def run(cfg: DictConfig) -> None:
    """Serves until Ctrl+C."""
    limits = Limits(**OmegaConf.to_container(cfg.limits))
    for name, value in vars(limits).items():
        bounded(f"limits.{name}", value, 1, 10**9)
    bounded("port", cfg.port, 1, 65535)
    bounded("concurrency", cfg.concurrency, 1, 1000)
    bounded("queue_size", cfg.queue_size, 1, 10**6)
    paths = [cfg.ckpt_path, *([cfg.compare_ckpt_path] if cfg.compare_ckpt_path else [])]
    print(f"loading {', '.join(map(str, paths))} and starting the page ...", flush=True)
    studio = Studio(paths, cfg.device, limits, cfg.ngram_order)
    blocks = serve(studio, cfg.host, cfg.port, cfg.queue_size, cfg.concurrency)
    print(f"lyrics studio: http://{cfg.host}:{cfg.port} (Ctrl+C stops it)", flush=True)
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: host={cfg.host} lets other machines reach the page.", flush=True)
    blocks.block_thread()
