"""A corpus and its parts, prepared once: chunked reading gives exactly the characters and ids of the
notebook's preprocessing of the whole text; the cache is memory-mapped, keyed by content and settings,
and never trusted when damaged."""

import json

import numpy as np
import pytest

from lyrics_rnn import corpus as corpus_module
from lyrics_rnn.prepare import Corpus, cut, split_lengths
from lyrics_rnn.vocab import UNK, Vocab

TEXT = "\ufeff分开\r\n我不要再想\r我不\n不知不觉 你已经离开我\r\n\r\nabc" * 7


def uncached(num_sample, split, min_freq):
    """The reference: TEXT as the notebook's text-mode read and replace calls preprocess it, whole, the
    vocabulary from the training part."""
    text = TEXT.removeprefix("\ufeff").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    text = text if num_sample is None else text[:num_sample]
    parts = cut(text, split_lengths(len(text), split))
    vocab = Vocab.from_text(parts["train"], min_freq, heldout=parts["val"] + parts["test"])
    return vocab, {name: vocab.encode(text) for name, text in parts.items()}


@pytest.mark.parametrize("chunk", [3, 5, 64, 1 << 20])  # boundaries inside \r\n pairs and after the BOM
@pytest.mark.parametrize("num_sample", [None, 50])
def test_chunked_preparation_equals_reading_the_whole_text(tmp_path, monkeypatch, chunk, num_sample):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(TEXT.encode())
    monkeypatch.setattr(corpus_module, "CHUNK_CHARS", chunk)
    vocab, ids = Corpus(str(corpus), None, num_sample, (0.8, 0.1, 0.1), 2).prepare()
    expected_vocab, expected = uncached(num_sample, (0.8, 0.1, 0.1), 2)
    assert vocab.idx_to_char == expected_vocab.idx_to_char
    for name in expected:
        assert ids[name].dtype == np.uint16 and ids[name].tolist() == expected[name].tolist()


def test_the_cache_is_memory_mapped_and_keyed_by_content(tmp_path):
    corpus, cache = tmp_path / "c.txt", tmp_path / "cache"
    corpus.write_text(TEXT, encoding="utf-8")
    vocab, ids = Corpus(str(corpus), split=(0.9, 0.1, 0), cache_dir=str(cache)).prepare()
    again_vocab, again = Corpus(str(corpus), split=(0.9, 0.1, 0), cache_dir=str(cache)).prepare()
    assert isinstance(again["train"].base, np.memmap) or isinstance(again["train"], np.memmap)
    assert again_vocab.idx_to_char == vocab.idx_to_char
    assert all(np.array_equal(again[n], ids[n]) for n in ids)
    assert len(list(cache.glob("*.npy"))) == 1
    corpus.write_text("新" + TEXT, encoding="utf-8")  # a changed file: a new entry, with the new character
    changed_vocab, _ = Corpus(str(corpus), split=(0.9, 0.1, 0), cache_dir=str(cache)).prepare()
    assert "新" in changed_vocab.idx_to_char and len(list(cache.glob("*.npy"))) == 2
    Corpus(str(corpus), split=(0.8, 0.2, 0), cache_dir=str(cache)).prepare()  # other settings: another entry
    assert len(list(cache.glob("*.npy"))) == 3


def test_a_damaged_cache_entry_is_prepared_again(tmp_path, caplog):
    corpus, cache = tmp_path / "c.txt", tmp_path / "cache"
    corpus.write_text(TEXT, encoding="utf-8")
    _, ids = Corpus(str(corpus), split=(0.9, 0.1, 0), cache_dir=str(cache)).prepare()
    (entry,) = cache.glob("*.npy")
    damaged = np.load(entry)
    damaged[3] += 1
    np.save(entry, damaged)
    _, again = Corpus(str(corpus), split=(0.9, 0.1, 0), cache_dir=str(cache)).prepare()
    assert "damaged" in caplog.text
    assert all(np.array_equal(again[n], ids[n]) for n in ids)
    assert np.array_equal(np.load(entry)[: len(ids["train"])], ids["train"])  # rewritten whole


def test_split_parts_are_contiguous_disjoint_and_cover_the_text():
    text = "".join(chr(0x4E00 + i % 500) for i in range(1003))
    parts = cut(text, split_lengths(len(text), [0.8, 0.1, 0.1]))
    assert parts["train"] + parts["val"] + parts["test"] == text
    assert [len(p) for p in parts.values()] == [803, 100, 100]
    with pytest.raises(ValueError, match="three shares"):
        split_lengths(len(text), [0.8, 0.3, 0.1])


def test_vocabulary_comes_from_the_training_part_and_maps_the_rest_to_unk(tmp_path):
    (corpus := tmp_path / "c.txt").write_text("我我我你你他我她你它", encoding="utf-8")
    vocab, ids = Corpus(str(corpus), split=[0.6, 0.2, 0.2], min_freq=2).prepare()
    assert vocab.idx_to_char == [UNK, "你", "我"]  # 他 seen once, 她 and 它 never
    assert ids["train"].tolist() == [2, 2, 2, 1, 1, 0] and ids["val"].tolist() == [2, 0]
    assert ids["test"].tolist() == [1, 0]
    (corpus := tmp_path / "d.txt").write_text("我你", encoding="utf-8")
    no_unk, _ = Corpus(str(corpus), split=[1, 0, 0]).prepare()
    assert no_unk.unk is None and no_unk.idx_to_char == ["你", "我"]
    with pytest.raises(ValueError, match="not in the vocabulary: '她'"):
        no_unk.encode("我她")


def test_a_corpus_is_what_defines_its_data_and_its_record_rebuilds_it(tmp_path):
    (path := tmp_path / "c.txt").write_text(TEXT, encoding="utf-8")
    corpus = Corpus(str(path), split=[0.8, 0.1, 0.1], min_freq=2, cache_dir=str(tmp_path / "cache"))
    again = Corpus.from_record(corpus.record())
    assert again == corpus  # where it is cached and how much may be read do not change the data
    assert again.record() == {
        "path": str(path),
        "member": None,
        "num_sample": None,
        "split": [0.8, 0.1, 0.1],
        "min_freq": 2,
    }
    (vocab, ids), (again_vocab, again_ids) = corpus.prepare(), again.prepare()
    assert vocab.idx_to_char == again_vocab.idx_to_char and all(
        np.array_equal(ids[n], again_ids[n]) for n in ids
    )
    with pytest.raises(ValueError, match="data.num_sample=0 must be positive"):
        Corpus(str(path), num_sample=0)


@pytest.mark.parametrize("damage", ["vocab", "lengths"])
def test_a_cache_entry_whose_description_was_edited_is_prepared_again(tmp_path, caplog, damage):
    """Swapped characters or moved part lengths in the .json would train on other data: the entry's
    hash covers them too."""
    corpus, cache = tmp_path / "c.txt", tmp_path / "cache"
    corpus.write_text(TEXT, encoding="utf-8")
    vocab, ids = Corpus(str(corpus), split=(0.8, 0.1, 0.1), cache_dir=str(cache)).prepare()
    (meta_file,) = cache.glob("*.json")
    meta = json.loads(meta_file.read_text())
    if damage == "vocab":
        meta["vocab"][1], meta["vocab"][2] = meta["vocab"][2], meta["vocab"][1]
    else:
        meta["lengths"]["train"] -= 5
        meta["lengths"]["val"] += 5
    meta_file.write_text(json.dumps(meta))
    again_vocab, again = Corpus(str(corpus), split=(0.8, 0.1, 0.1), cache_dir=str(cache)).prepare()
    assert "damaged" in caplog.text
    assert again_vocab.idx_to_char == vocab.idx_to_char and all(np.array_equal(again[n], ids[n]) for n in ids)
