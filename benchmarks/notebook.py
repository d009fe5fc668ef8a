"""The seed notebook's from-scratch RNN training code, kept as it was, as the benchmark's baseline.

Reference only, bugs included (lr divided by the batch size, clipping on the sum of per-tensor norms,
per-character one-hot loops): `scripts/benchmark.py` times it beside this project's code. Nothing else
uses it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def data_iter_random(corpus_indices, batch_size, num_steps):
    num_examples = (len(corpus_indices) - 1) // num_steps
    epoch_size = num_examples // batch_size
    example_indices = list(range(num_examples))
    np.random.shuffle(example_indices)
    for i in range(epoch_size):
        batch_indices = example_indices[i * batch_size : (i + 1) * batch_size]
        X = [corpus_indices[j * num_steps : (j + 1) * num_steps] for j in batch_indices]
        Y = [corpus_indices[j * num_steps + 1 : (j + 1) * num_steps + 1] for j in batch_indices]
        yield torch.IntTensor(X), torch.IntTensor(Y)


def data_iter_consecutive(corpus_indices, batch_size, num_steps):
    corpus_indices = np.array(corpus_indices)
    data_len = len(corpus_indices)
    batch_len = data_len // batch_size
    indices = corpus_indices[0 : batch_size * batch_len].reshape(batch_size, batch_len)
    epoch_size = (batch_len - 1) // num_steps
    for i in range(epoch_size):
        X = indices[:, i * num_steps : (i + 1) * num_steps]
        Y = indices[:, i * num_steps + 1 : (i + 1) * num_steps + 1]
        yield torch.IntTensor(X), torch.IntTensor(Y)


def one_hot(word_indices, vocab_size):
    shape = [*list(word_indices.shape), vocab_size]
    res = torch.zeros(size=shape)
    if len(shape) == 2:
        res[range(shape[0]), word_indices] = 1
    elif len(shape) == 3:
        for i in range(shape[0]):
            for j in range(shape[1]):
                res[i, j, word_indices[i, j]] = 1
    return res


def to_onehot(X, size):
    return [one_hot(x, size) for x in X.t()]


def get_params(num_inputs, num_hiddens, num_outputs):
    W_xh = torch.randn(num_inputs, num_hiddens) * 0.01
    W_hh = torch.randn(num_hiddens, num_hiddens) * 0.01
    b_h = torch.zeros(num_hiddens)
    W_ho = torch.randn(num_hiddens, num_outputs) * 0.01
    b_o = torch.zeros(num_outputs)
    for param in (W_xh, W_hh, b_h, W_ho, b_o):
        param.requires_grad_(True)
    return W_xh, W_hh, b_h, W_ho, b_o


def init_rnn_hidden_state(batch_size, num_hiddens):
    return (torch.zeros(batch_size, num_hiddens),)


def rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_ho, b_o = params
    (H,) = state
    outputs = []
    for X in inputs:
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        Y = H @ W_ho + b_o
        outputs.append(Y)
    return outputs, (H,)


def grad_clipping(params, theta):
    norm = torch.tensor(0.0)
    for param in params:
        norm += torch.norm(param.grad, 2)
    if norm > theta:
        for param in params:
            param.grad.data.mul_(theta / norm)


def train_epoch(
    params, corpus_indices, vocab_size, is_random_iter, num_hiddens, num_steps, lr, clipping_theta, batch_size
):
    """One epoch of the notebook's `train_and_predict_rnn` loop; returns its perplexity."""
    data_iter_fn = data_iter_random if is_random_iter else data_iter_consecutive
    loss = nn.CrossEntropyLoss()
    if not is_random_iter:
        state = init_rnn_hidden_state(batch_size, num_hiddens)
    l_sum, n = 0.0, 0
    for X, Y in data_iter_fn(corpus_indices, batch_size, num_steps):
        if is_random_iter:
            state = init_rnn_hidden_state(batch_size, num_hiddens)
        else:
            for s in state:
                s.detach_()
        inputs = to_onehot(X.long(), vocab_size)
        (outputs, state) = rnn(inputs, state, params)
        outputs = torch.cat(outputs, dim=0)
        y = Y.t().reshape((-1,))
        l = loss(outputs, y.long()).mean()  # noqa: E741
        l.backward()
        with torch.no_grad():
            grad_clipping(params, clipping_theta)
            for param in params:
                param.data.sub_(lr * param.grad / batch_size)
                param.grad.data.zero_()
        l_sum += l.item() * y.numel()
        n += y.numel()
    return float(np.exp(l_sum / n))
