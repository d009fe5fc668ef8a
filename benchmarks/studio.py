"""The studio's speed on a trained checkpoint: generation's characters per second (the generate.py
loop, the studio's streamed write in-process and through its HTTP API), the time to the first streamed
character, and a read (surprisal and top-5 of every character) of a 6,000-character text. The arms run
interleaved, round by round; each figure is the median over the rounds."""

from __future__ import annotations

import socket
import statistics
import time

import torch

from lyrics_rnn.reading import UNKNOWN
from lyrics_rnn.sampling import generate
from lyrics_rnn.studio import Limits, Studio, serve

PREFIX = "分开"
READ_CHARS = 6000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def first_and_total(pieces, num_chars: int) -> tuple[float, float]:
    """Seconds to the first piece holding a generated character, and to the last piece."""
    start, first = time.perf_counter(), None
    for piece in pieces:
        if first is None and len(piece[0]) > len(PREFIX):
            first = time.perf_counter() - start
    return first, time.perf_counter() - start


def time_studio(ckpt: str, rounds: int, num_chars: int = 1000) -> dict[str, float]:
    from gradio_client import Client

    studio = Studio([ckpt], "cpu", Limits(num_chars=num_chars, read_chars=READ_CHARS))
    model = studio.models[0]
    text = model.vocab.decode(studio.parts()["train"][:READ_CHARS].tolist(), unk=UNKNOWN)
    blocks = serve(studio, "127.0.0.1", port := free_port(), queue_size=16, concurrency=4)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False)
    runs: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        runs.setdefault(name, []).append(value)

    try:
        for _ in range(rounds):
            generator = torch.Generator().manual_seed(0)
            start = time.perf_counter()
            generate(model.net, model.vocab, PREFIX, num_chars, temperature=0.8, generator=generator)
            keep("generate.py loop, chars/s", num_chars / (time.perf_counter() - start))
            first, total = first_and_total(studio.write(PREFIX, num_chars, 0.8, 0, 0, 1), num_chars)
            keep("studio write in-process, chars/s", num_chars / total)
            keep("studio write in-process, first character ms", first * 1000)
            job = client.submit(PREFIX, num_chars, 0.8, 0, 0, 1, api_name="/write")
            first, total = first_and_total(job, num_chars)
            keep("studio write via HTTP API, chars/s", num_chars / total)
            keep("studio write via HTTP API, first character ms", first * 1000)
            start = time.perf_counter()
            studio.read("text", text, "surprisal")
            keep(f"read of {len(text):,} characters in-process, ms", (time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            client.predict("text", text, "surprisal", "ngram", api_name="/read")
            keep(f"read of {len(text):,} characters via HTTP API, ms", (time.perf_counter() - start) * 1000)
    finally:
        blocks.close()
    return {name: statistics.median(values) for name, values in runs.items()}
