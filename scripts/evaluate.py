"""Perplexity of a checkpoint: `python scripts/evaluate.py ckpt_path=... split=test [adapt=best]`,
or on any text: `python scripts/evaluate.py ckpt_path=... data.path=some.txt`; of an ensemble:
`python scripts/evaluate.py 'ckpt_path=outputs/multirun/<sweep>/*/checkpoints/epoch*.ckpt' split=test`."""

import sys

import torch
from omegaconf import DictConfig

from lyrics_rnn.cache import perplexity
from lyrics_rnn.checkpoint import checkpoint_paths, data_settings, load_model, training_parts
from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.corpus import read_corpus
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.evaluate import adapted_perplexity, check_adaptation, target_probs
from lyrics_rnn.models import Ensemble
from lyrics_rnn.ngram import KneserNey


@hydra_entry("evaluate")
def main(cfg: DictConfig) -> float:
    if cfg.batch_size < 1 or cfg.num_steps < 1:
        raise LyricsError(
            f"batch_size={cfg.batch_size} and num_steps={cfg.num_steps} must both be at least 1."
        )
    check_adaptation(cfg.adapt)  # before any reading: a misspelt name fails at once
    paths = checkpoint_paths(cfg.ckpt_path)
    models = [load_model(path, cfg.device) for path in paths]
    vocab, data = models[0].vocab, [data_settings(path) for path in paths]
    if any(m.vocab.idx_to_char != vocab.idx_to_char for m in models) or any(d != data[0] for d in data):
        raise LyricsError(
            f"the checkpoints {[str(p) for p in paths]} were trained on different data: an ensemble needs one."
        )
    if len(models) > 1:
        print(f"an ensemble of {len(models)} checkpoints: the average of their probabilities")
    net = Ensemble([model.net for model in models]).eval() if len(models) > 1 else models[0].net
    if cfg.data.path:
        if cfg.adapt != "none":
            raise LyricsError(
                "adapt= chooses its settings on the validation part: use split=val|test, not data.path."
            )
        parts, name = (
            {"text": read_corpus(cfg.data.path, cfg.data.member, cfg.data.num_sample)},
            "text",
        )
    else:
        parts, name = training_parts(paths[0]), cfg.split
        if name not in ("val", "test") or not parts[name]:
            held_out = [f"split={part}" for part in ("val", "test") if parts[part]]
            raise LyricsError(
                f"split={name} names no held-out part of this checkpoint's corpus (data.split="
                f"{data[0]['split']}); use {' or '.join(held_out) or 'data.path=<a text file>'}."
            )
    unknown = vocab.unknown(parts[name])
    if unknown and vocab.unk is not None:  # without <unk>, encoding names them in an error
        print(
            f"note: {len(unknown)} characters outside the vocabulary count as <unk>: {unknown[:20]}",
            file=sys.stderr,
        )
    ids = {part: torch.from_numpy(vocab.encode(text)) for part, text in parts.items()}
    if cfg.adapt == "none":
        ppl = perplexity(target_probs(net, ids[name], cfg.batch_size, cfg.num_steps))
    else:
        ngram = KneserNey(ids["train"].tolist(), len(vocab), cfg.ngram_order)
        ppl, chosen = adapted_perplexity(net, ngram, ids["val"], ids[name], cfg.adapt, cfg.num_steps)
        print(f"adapt={cfg.adapt}: {chosen}")
    print(f"{len(parts[name])} characters of {cfg.data.path or f'the {name} part'}")
    print(f"{'' if cfg.data.path else name + ' '}perplexity {ppl:.4f}")
    return ppl


if __name__ == "__main__":
    main()
