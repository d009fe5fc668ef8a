"""Scoring held-out text: a model's probability of every character, static or adapted as it reads.

Adaptation uses only text already scored, so it is a legitimate evaluation: dynamic evaluation
(Krause et al. 2018: after scoring a segment, one gradient step on it), the cache of the text so far,
and a mixture with the Kneser-Ney n-gram, its weights fitted on the validation part only.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import Tensor, nn

from lyrics_rnn.context_cache import context_cache, fit_bucketed, longest_match, mix, perplexity
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.kneser_ney import KneserNey
from lyrics_rnn.models import detach_state
from lyrics_rnn.samplers import stream_batches

ADAPTATIONS = ("none", "ngram", "cache", "dynamic", "best")
DYNAMIC_LRS = (1e-2, 3e-2, 1e-1, 3e-1, 1.0)
# In characters: the whole text so far, then the recent past (chosen on validation: a song, a few lines).
CACHE_HALF_LIVES = (math.inf, 100, 10)


def target_probs(
    net: nn.Module, ids: Tensor, num_streams: int = 1, num_steps: int = 35, dynamic_lr: float = 0.0
) -> np.ndarray:
    """P(ids[i + 1] | ids[: i + 1]) for every i, read as validation reads (consecutive streams, state
    carried); with `dynamic_lr`, a copy of the network takes an SGD step on each segment once scored."""
    if dynamic_lr:
        net = copy.deepcopy(net)
    net.eval()
    device = next(net.parameters()).device
    state, picked = None, []
    for inputs, targets, reset in stream_batches(ids, num_streams, num_steps):
        inputs, targets = inputs.to(device), targets.to(device)
        state = None if reset else detach_state(state)
        with torch.set_grad_enabled(dynamic_lr > 0):
            logits, state = net(inputs, state)
            log_probs = logits.float().log_softmax(-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0]
        if dynamic_lr:
            net.zero_grad()
            (-log_probs[targets >= 0].mean()).backward()
            with torch.no_grad():
                for p in net.parameters():
                    if p.grad is not None:
                        p -= dynamic_lr * p.grad
        picked.append(log_probs.detach())
    # Rows are contiguous stretches of the text and the padding ends the last one: row-major is text order.
    return torch.cat(picked, dim=1).flatten()[: len(ids) - 1].exp().double().cpu().numpy()


def baselines(ngram: KneserNey, ids: Tensor, cache_order: int = 8) -> dict[str, np.ndarray]:
    """The n-gram's probability of every target; the cache's: of the longest match ("cache"), and of
    every context length 0..cache_order for every half-life in CACHE_HALF_LIVES ("caches",
    [N, (cache_order + 1) * len(CACHE_HALF_LIVES)]); the longest match lengths."""
    ids = ids.tolist()
    caches, lengths = context_cache(ids, cache_order)
    recent = [context_cache(ids, cache_order, half_life)[0] for half_life in CACHE_HALF_LIVES[1:]]
    return {
        "ngram": np.array(ngram.target_probs(ids)),
        "cache": longest_match(caches, lengths),
        "caches": np.column_stack([caches, *recent]),
        "lengths": lengths,
    }


# Recipes: the models mixed, with weights fitted on validation (per longest match length where a cache
# takes part: a long match earns more trust).
RECIPES = {
    "ngram": ("ngram",),
    "ngram+cache": ("ngram", "cache"),
    "ngram+caches": ("ngram", "caches"),
    "neural": ("neural",),
    "neural+ngram": ("neural", "ngram"),
    "neural+cache": ("neural", "cache"),
    "neural+caches": ("neural", "caches"),
    "neural+ngram+cache": ("neural", "ngram", "cache"),
    "neural+ngram+caches": ("neural", "ngram", "caches"),
}
CANDIDATES = {  # adapt= -> (dynamic learning rate, recipe) pairs; all of them mix the neural model in
    "ngram": [(0.0, "neural+ngram")],
    "cache": [(0.0, "neural+cache"), (0.0, "neural+caches")],
    "dynamic": [(lr, "neural") for lr in DYNAMIC_LRS],
    "best": [(lr, r) for lr in (0.0, *DYNAMIC_LRS) for r in RECIPES if "neural" in RECIPES[r]],
}


def fitted_probs(recipe: str, val: dict, target: dict) -> tuple[float, np.ndarray]:
    """Validation perplexity of a recipe whose mixture weights are fitted on validation, and its
    probability of every target character."""
    names = RECIPES[recipe]

    def stacked(scored: dict) -> tuple[np.ndarray, np.ndarray]:
        cached = {"cache", "caches"} & set(names)
        buckets = scored["lengths"] if cached else np.zeros(len(scored["lengths"]), dtype=np.int64)
        return np.column_stack([scored[n] for n in names]), buckets

    weights = fit_bucketed(*stacked(val))
    return perplexity(mix(*stacked(val), weights)), mix(*stacked(target), weights)


def fitted_perplexities(recipe: str, val: dict, target: dict) -> tuple[float, float]:
    """Validation and target perplexity of a recipe whose mixture weights are fitted on validation."""
    val_ppl, probs = fitted_probs(recipe, val, target)
    return val_ppl, perplexity(probs)


def check_adaptation(adapt: str) -> None:
    if adapt not in ADAPTATIONS:
        raise LyricsError(f"adapt={adapt!r} is not known; use one of {', '.join(ADAPTATIONS)}.")


def adapted_probs(
    net: nn.Module, ngram: KneserNey, val: Tensor, target: Tensor, adapt: str, num_steps: int = 35
) -> tuple[np.ndarray, str]:
    """The probability of every character of `target` after the first under the adaptation `adapt`
    (see ADAPTATIONS), every choice it involves (recipe, mixture weights, dynamic learning rate) made
    on `val`; and a line saying what was chosen."""
    check_adaptation(adapt)
    if adapt == "none":
        return target_probs(net, target, 1, num_steps), "static"
    parts = {"val": val, "target": target}
    fixed = {name: baselines(ngram, ids) for name, ids in parts.items()}  # the same for every learning rate
    scored = {
        lr: {
            name: {**fixed[name], "neural": target_probs(net, ids, 1, num_steps, lr)}
            for name, ids in parts.items()
        }
        for lr in {lr for lr, _ in CANDIDATES[adapt]}
    }
    results = [
        (*fitted_probs(r, scored[lr]["val"], scored[lr]["target"]), lr, r) for lr, r in CANDIDATES[adapt]
    ]
    val_ppl, probs, lr, recipe = min(results, key=lambda result: (result[0], result[2], result[3]))
    return probs, f"{recipe}, dynamic lr {lr:g}: validation perplexity {val_ppl:.2f}"


def adapted_perplexity(
    net: nn.Module, ngram: KneserNey, val: Tensor, target: Tensor, adapt: str, num_steps: int = 35
) -> tuple[float, str]:
    """Perplexity of `target` under the adaptation `adapt`, and what was chosen (see `adapted_probs`)."""
    probs, chosen = adapted_probs(net, ngram, val, target, adapt, num_steps)
    return perplexity(probs), chosen
