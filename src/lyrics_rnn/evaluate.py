"""`run(cfg)` of scripts/evaluate.py: the perplexity of a checkpoint (or of several, as an ensemble) on
a part of the corpus it was trained on, or on any text, static or adapted."""

from __future__ import annotations

import sys

import numpy as np
import torch
from omegaconf import DictConfig

from lyrics_rnn.adapt import adapted_perplexity, check_adaptation, target_probs
from lyrics_rnn.checkpoint import checkpoint_paths, corpus_record, load_model, read_checkpoint, training_parts
from lyrics_rnn.context_cache import fit_weights, perplexity
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.kneser_ney import KneserNey
from lyrics_rnn.models import Ensemble
from lyrics_rnn.prepare import Corpus
from lyrics_rnn.vocab import Vocab

ENSEMBLE_WEIGHTS = ("equal", "fitted")  # how several checkpoints' probabilities are mixed


def run(cfg: DictConfig) -> float:
    if cfg.batch_size < 1 or cfg.num_steps < 1:
        raise LyricsError(
            f"batch_size={cfg.batch_size} and num_steps={cfg.num_steps} must both be at least 1."
        )
    check_adaptation(cfg.adapt)  # before any reading: a misspelt name fails at once
    if cfg.ensemble_weights not in ENSEMBLE_WEIGHTS:
        raise LyricsError(
            f"ensemble_weights={cfg.ensemble_weights!r} is not known; use one of {', '.join(ENSEMBLE_WEIGHTS)}."
        )
    paths = checkpoint_paths(cfg.ckpt_path)
    models = [load_model(path, cfg.device) for path in paths]
    vocab = models[0].vocab
    records = [corpus_record(read_checkpoint(path)) for path in paths]
    if any(m.vocab.idx_to_char != vocab.idx_to_char for m in models) or any(r != records[0] for r in records):
        raise LyricsError(
            f"the checkpoints {[str(p) for p in paths]} were trained on different data: an ensemble needs one."
        )
    nets = [model.net for model in models]
    if len(models) == 1:
        net = nets[0]
    elif cfg.ensemble_weights == "fitted":
        val = torch.from_numpy(training_parts(paths[0])["val"].astype("int64"))
        if not len(val):
            raise LyricsError(
                "ensemble_weights=fitted fits the weights on the validation part, and this corpus has none; "
                "use ensemble_weights=equal."
            )
        weights = fit_weights(np.column_stack([target_probs(n, val, 1, cfg.num_steps) for n in nets]))
        print(
            f"an ensemble of {len(models)} checkpoints: their probabilities weighted "
            f"{', '.join(f'{w:.3f}' for w in weights)} (fitted on the validation part)"
        )
        net = Ensemble(nets, torch.from_numpy(weights)).eval()
    else:
        print(f"an ensemble of {len(models)} checkpoints: the average of their probabilities")
        net = Ensemble(nets).eval()
    if cfg.data.path:
        if cfg.adapt != "none":
            raise LyricsError(
                "adapt= chooses its settings on the validation part: use split=val|test, not data.path."
            )
        text = Corpus(cfg.data.path, cfg.data.member, cfg.data.num_sample)
        ids, name = {"text": encode_text(text, vocab)}, "text"
    else:
        ids, name = training_parts(paths[0]), cfg.split
        if name not in ("val", "test") or not len(ids[name]):
            held_out = [f"split={part}" for part in ("val", "test") if len(ids[part])]
            raise LyricsError(
                f"split={name} names no held-out part of this checkpoint's corpus (data.split="
                f"{records[0]['split']}); use {' or '.join(held_out) or 'data.path=<a text file>'}."
            )
    ids = {part: torch.from_numpy(part_ids.astype("int64")) for part, part_ids in ids.items()}
    if cfg.adapt == "none":
        ppl = perplexity(target_probs(net, ids[name], cfg.batch_size, cfg.num_steps))
    else:
        ngram = KneserNey(ids["train"].tolist(), len(vocab), cfg.ngram_order)
        ppl, chosen = adapted_perplexity(net, ngram, ids["val"], ids[name], cfg.adapt, cfg.num_steps)
        print(f"adapt={cfg.adapt}: {chosen}")
    print(f"{len(ids[name])} characters of {cfg.data.path or f'the {name} part'}")
    print(f"{'' if cfg.data.path else name + ' '}perplexity {ppl:.4f}")
    return ppl


def encode_text(text: Corpus, vocab: Vocab) -> np.ndarray:
    """A text's ids in a checkpoint's vocabulary, with a note naming the characters read as <unk>
    (without <unk>, encoding names them in an error)."""
    ids = text.encode(vocab)
    unknown = vocab.unknown("".join(text.characters())) if vocab.unk is not None else ""
    if unknown:
        print(
            f"note: {len(unknown)} characters outside the vocabulary count as <unk>: {unknown[:20]}",
            file=sys.stderr,
        )
    return ids
