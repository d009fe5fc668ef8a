"""Preparing a corpus once: chunked reading gives exactly the characters and ids of the notebook's preprocessing of the whole text;
the cache is memory-mapped, keyed by content and settings, and never trusted when damaged."""

import numpy as np
import pytest

from lyrics_rnn import corpus as corpus_module
from lyrics_rnn.corpus import Vocab
from lyrics_rnn.datamodule import split_text
from lyrics_rnn.prepare import prepare

TEXT = "\ufeff分开\r\n我不要再想\r我不\n不知不觉 你已经离开我\r\n\r\nabc" * 7


def uncached(num_sample, split, min_freq):
    """The reference: TEXT as the notebook's text-mode read and replace calls preprocess it, whole, the
    vocabulary from the training part."""
    text = TEXT.removeprefix("\ufeff").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    parts = split_text(text if num_sample is None else text[:num_sample], split)
    vocab = Vocab.from_text(parts["train"], min_freq, heldout=parts["val"] + parts["test"])
    return vocab, {name: vocab.encode(text) for name, text in parts.items()}


@pytest.mark.parametrize("chunk", [3, 5, 64, 1 << 20])  # boundaries inside \r\n pairs and after the BOM
@pytest.mark.parametrize("num_sample", [None, 50])
def test_chunked_preparation_equals_reading_the_whole_text(tmp_path, monkeypatch, chunk, num_sample):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(TEXT.encode())
    monkeypatch.setattr(corpus_module, "CHUNK_CHARS", chunk)
    vocab, ids = prepare(corpus, None, num_sample, (0.8, 0.1, 0.1), 2)
    expected_vocab, expected = uncached(num_sample, (0.8, 0.1, 0.1), 2)
    assert vocab.idx_to_char == expected_vocab.idx_to_char
    for name in expected:
        assert ids[name].dtype == np.uint16 and ids[name].tolist() == expected[name].tolist()


def test_the_cache_is_memory_mapped_and_keyed_by_content(tmp_path):
    corpus, cache = tmp_path / "c.txt", tmp_path / "cache"
    corpus.write_text(TEXT, encoding="utf-8")
    vocab, ids = prepare(corpus, split=(0.9, 0.1, 0), cache_dir=cache)
    again_vocab, again = prepare(corpus, split=(0.9, 0.1, 0), cache_dir=cache)
    assert isinstance(again["train"].base, np.memmap) or isinstance(again["train"], np.memmap)
    assert again_vocab.idx_to_char == vocab.idx_to_char
    assert all(np.array_equal(again[n], ids[n]) for n in ids)
    assert len(list(cache.glob("*.npy"))) == 1
    corpus.write_text("新" + TEXT, encoding="utf-8")  # a changed file: a new entry, with the new character
    changed_vocab, _ = prepare(corpus, split=(0.9, 0.1, 0), cache_dir=cache)
    assert "新" in changed_vocab.idx_to_char and len(list(cache.glob("*.npy"))) == 2
    prepare(corpus, split=(0.8, 0.2, 0), cache_dir=cache)  # other settings: another entry
    assert len(list(cache.glob("*.npy"))) == 3


def test_a_damaged_cache_entry_is_prepared_again(tmp_path, caplog):
    corpus, cache = tmp_path / "c.txt", tmp_path / "cache"
    corpus.write_text(TEXT, encoding="utf-8")
    _, ids = prepare(corpus, split=(0.9, 0.1, 0), cache_dir=cache)
    (entry,) = cache.glob("*.npy")
    damaged = np.load(entry)
    damaged[3] += 1
    np.save(entry, damaged)
    _, again = prepare(corpus, split=(0.9, 0.1, 0), cache_dir=cache)
    assert "damaged" in caplog.text
    assert all(np.array_equal(again[n], ids[n]) for n in ids)
    assert np.array_equal(np.load(entry)[: len(ids["train"])], ids["train"])  # rewritten whole
