"""Bad input as a careless or hostile user gives it: every case is one `error: ...` line on stderr that
names the fix, exit status 2, no traceback and no checkpoint written. The real scripts run in
processes of their own (forked warm, tests/warm.py), a few at a time, all at once for the module."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from helpers import LYRICS, compose_config, run_script, tiny_overrides

from lyrics_rnn.train import train

TRAIN = (
    "data.path={corpus}",
    "data.url=null",
    "data.num_sample=null",
    "data.split=[0.8,0.2,0]",
    "paths.log_dir={out}",
    "paths.data_dir={out}/data",
    "sampler.batch_size=3",
    "sampler.num_steps=5",
    "model.num_hiddens=16",
    "trainer.max_epochs=2",
)
HELDOUT = ("data.path={corpus}", "data.url=null", "data.num_sample=null", "paths.log_dir={out}")

# id: (script, extra arguments, a fragment the error line must hold). Placeholders name the files below.
CASES = {
    "corpus is a directory": ("train.py", ["data.path={folder}"], "is a directory, not a file"),
    "corpus missing": ("train.py", ["data.path={folder}/nope.txt"], "corpus file not found"),
    "corpus empty": ("train.py", ["data.path={empty}"], "is empty"),
    "corpus not UTF-8": ("train.py", ["data.path={gbk}"], "text, not UTF-8; convert it, e.g. `iconv -f GB"),
    "corpus gzip-compressed": (
        "train.py",
        ["data.path={gzipped}"],
        "is gzip-compressed, not text; decompress it",
    ),
    "corpus UTF-16": (
        "train.py",
        ["data.path={utf16}"],
        "is UTF-16 text, not UTF-8; convert it, e.g. `iconv -f UTF-16",
    ),
    "corpus binary": ("train.py", ["data.path={binary}"], "is not text (binary data)"),
    "zip member not UTF-8": ("train.py", ["data.path={gbk_zip}"], "unzip -p"),
    "not a zip": ("train.py", ["data.path={bad_zip}"], "not a valid zip file"),
    "zip member missing": ("train.py", ["data.path={zip}", "data.member=nope.txt"], "has no member"),
    "corpus above max_bytes": ("train.py", ["data.max_bytes=100"], "data.max_bytes=100"),
    "offline download": (
        "train.py",
        ["data.path={folder}/jaychou_lyrics.txt.zip", "data.url=http://127.0.0.1:9/jaychou_lyrics.txt.zip"],
        "Offline? Copy jaychou_lyrics.txt.zip",
    ),
    "split of two shares": ("train.py", ["data.split=[0.5,0.5]"], "three shares"),
    "negative split share": ("train.py", ["data.split=[0.5,0.6,-0.1]"], "three shares"),
    "num_sample zero": ("train.py", ["data.num_sample=0"], "data.num_sample=0 must be positive"),
    "min_freq zero": ("train.py", ["data.min_freq=0"], "data.min_freq=0"),
    "min_freq above every count": ("train.py", ["data.min_freq=100000"], "keeps no character"),
    "val_batch_size zero": ("train.py", ["data.val_batch_size=0"], "data.val_batch_size=0"),
    "val_batch_size too large": ("train.py", ["data.val_batch_size=1000"], "too short for 1000 streams"),
    "batch_size too large": ("train.py", ["sampler.batch_size=1000"], "too short for one batch"),
    "num_steps zero": ("train.py", ["sampler.num_steps=0"], "num_steps=0"),
    "unknown model": ("train.py", ["model=foo"], "Could not find 'model/foo'"),
    "unknown sampler": ("train.py", ["sampler=foo"], "Could not find 'sampler/foo'"),
    "unknown experiment": ("train.py", ["experiment=foo"], "Could not find 'experiment/foo'"),
    "unknown model key": ("train.py", ["model.foo=1"], "Key 'foo' not in"),
    "num_hiddens zero": ("train.py", ["model.num_hiddens=0"], "model.num_hiddens=0"),
    "ensemble zero": ("train.py", ["model.ensemble=0"], "model.ensemble=0"),
    "dropout above 1": ("train.py", ["model=lstm", "model.output_dropout=1.5"], "model.output_dropout=1.5"),
    "tied without embedding": (
        "train.py",
        ["model=lstm", "model.tie_weights=true"],
        "set model.embedding_dim",
    ),
    "negative lr": ("train.py", ["model.optimizer.lr=-1"], "Invalid learning rate"),
    "nan lr": ("train.py", ["model.optimizer.lr=nan"], "lr=nan must be a finite number"),
    "infinite lr": ("train.py", ["model.optimizer.lr=inf"], "finite number above 0"),
    "lr not a number": ("train.py", ["model.optimizer.lr=abc"], "model.optimizer.lr='abc' must be a number"),
    "max_epochs not a number": ("train.py", ["trainer.max_epochs=abc"], "full_key: trainer.max_epochs"),
    "validation every 0 epochs": (
        "train.py",
        ["trainer.check_val_every_n_epoch=0"],
        "check_val_every_n_epoch=0 must be at least 1",
    ),
    "negative clip": (
        "train.py",
        ["trainer.gradient_clip_val=-1"],
        "gradient_clip_val=-1 must be positive",
    ),
    "no epochs": ("train.py", ["trainer.max_epochs=0"], "trainer.max_epochs=0"),
    "clip not a number": (
        "train.py",
        ["trainer.gradient_clip_val=abc"],
        "trainer.gradient_clip_val='abc' must be a number",
    ),
    "batch limit not a number": (
        "train.py",
        ["trainer.limit_val_batches=some"],
        "trainer.limit_val_batches='some' must be",
    ),
    "corpus a device": ("train.py", ["data.path=/dev/null"], "is not a regular file"),
    "no steps": ("train.py", ["trainer.max_steps=0"], "trainer.max_steps=0 trains nothing"),
    "embedding of no width": ("train.py", ["model=lstm", "model.embedding_dim=0"], "model.embedding_dim=0"),
    "samples of no prefix": (
        "train.py",
        ["callbacks.lyrics_samples.prefixes=[]"],
        "~callbacks.lyrics_samples",
    ),
    "no batches": ("train.py", ["trainer.limit_train_batches=0"], "limit_train_batches=0 trains nothing"),
    "accumulate zero batches": ("train.py", ["trainer.accumulate_grad_batches=0"], "must be at least 1"),
    "validation interval beyond the epoch": (
        "train.py",
        ["trainer.val_check_interval=1000"],
        "val_check_interval=1000 is more than the",
    ),
    "batch over devices": (
        "train.py",
        ["trainer=ddp", "trainer.accelerator=cpu"],
        "sampler.batch_size=3 cannot be split evenly over 2 devices",
    ),
    "impossible devices": ("train.py", ["trainer.devices=0"], "devices=0"),
    "metric never logged": ("train.py", ["optimized_metric=val/acc"], "is never logged"),
    "no validation part": ("train.py", ["data.split=[1,0,0]"], "is never logged"),
    "optuna without trials": (
        "train.py",
        ["hparams_search=lstm_optuna", "hydra.sweeper.n_trials=0", "hydra.sweep.dir={out}/sweep"],
        "set hydra.sweeper.n_trials to at least 1",
    ),
    "seed not a number": ("train.py", ["seed=abc"], "full_key: seed"),
    "negative seed": ("train.py", ["seed=-1"], "seed=-1 must be between 0 and 2**32 - 1"),
    "threads zero": ("train.py", ["threads=0"], "threads=0 must be at least 1"),
    "threads not an integer": ("train.py", ["threads=1.5"], "full_key: threads"),
    "unknown allocator": ("train.py", ["allocator=jemalloc"], "allocator='jemalloc' is not known"),
    "samples every 0 epochs": ("train.py", ["callbacks.lyrics_samples.pred_period=0"], "pred_period=0"),
    "lightning shortcut": ("train.py", ["ckpt_path=last"], "checkpoint not found: last"),
    "text as checkpoint": ("train.py", ["ckpt_path={corpus}"], "is not a torch checkpoint"),
    "malicious pickle": ("train.py", ["ckpt_path={evil}"], "was refused"),
    "resume past max_epochs": ("train.py", ["ckpt_path={ckpt}"], "has trained 2 epochs already"),
    "resume other vocabulary": (
        "train.py",
        ["ckpt_path={ckpt}", "data.path={shifted}", "trainer.max_epochs=3"],
        "another vocabulary",
    ),
    "resume other size": (
        "train.py",
        ["ckpt_path={ckpt}", "model.num_hiddens=32", "trainer.max_epochs=3"],
        "model.num_hiddens=16",
    ),
    "output under a file": ("train.py", ["paths.log_dir={corpus}/out"], "Not a directory"),
    "output through a dangling link": (
        "train.py",
        ["paths.log_dir={dangling}/out"],
        "cannot create the folder {dangling}",
    ),
    "cache where no folder can be": (
        "train.py",
        ["data.cache_dir=/proc/lyrics-rnn"],
        "cannot create the folder",
    ),
    "generate negative length": ("generate.py", ["ckpt_path={ckpt}", "num_chars=-1"], "num_chars=-1"),
    "generate no samples": ("generate.py", ["ckpt_path={ckpt}", "num_samples=0"], "num_samples=0"),
    "generate prefixes as string": (
        "generate.py",
        ["ckpt_path={ckpt}", "prefixes='分开'"],
        "not a ListConfig",
    ),
    "generate negative temperature": (
        "generate.py",
        ["ckpt_path={ckpt}", "temperature=-1"],
        "temperature=-1.0 must be finite and >= 0",
    ),
    "generate temperature nan": ("generate.py", ["ckpt_path={ckpt}", "temperature=nan"], "must be finite"),
    "generate no prefixes": ("generate.py", ["ckpt_path={ckpt}", "prefixes=[]"], "prefixes=[] gives nothing"),
    "generate top_k zero": ("generate.py", ["ckpt_path={ckpt}", "temperature=1", "top_k=0"], "top_k=0"),
    "generate greedy with negative top_k": ("generate.py", ["ckpt_path={ckpt}", "top_k=-3"], "top_k=-3"),
    "generate unknown format": ("generate.py", ["ckpt_path={ckpt}", "format=xml"], "format='xml'"),
    "generate diverged checkpoint": ("generate.py", ["ckpt_path={nan_ckpt}"], "non-finite weights"),
    "generate absurd length": (
        "generate.py",
        ["ckpt_path={ckpt}", "num_chars=10000000"],
        "must be in 0..100,000",
    ),
    "studio missing checkpoint": ("studio.py", ["ckpt_path={folder}/no.ckpt"], "checkpoint not found"),
    "studio not a checkpoint": ("studio.py", ["ckpt_path={empty}"], "is empty (0 bytes)"),
    "studio unknown option": ("studio.py", ["ckpt_path={ckpt}", "colour=red"], "colour"),
    "studio option added by +": (
        "studio.py",
        ["ckpt_path={ckpt}", "+colour=red"],
        "colour is not a setting of studio.py",
    ),
    "studio port out of range": ("studio.py", ["ckpt_path={ckpt}", "port=70000"], "port=70000 must be"),
    "studio zero limit": ("studio.py", ["ckpt_path={ckpt}", "limits.num_chars=0"], "limits.num_chars=0"),
    "explain unknown source": ("explain.py", ["ckpt_path={ckpt}", "source=train"], "source='train'"),
    "explain text missing": ("explain.py", ["ckpt_path={ckpt}", "source=text"], "at least two known"),
    "generate setting added by +": (
        "generate.py",
        ["ckpt_path={ckpt}", "+colour=red"],
        "+colour=red: colour is not a setting of generate.py",
    ),
    "train model setting added by +": (
        "train.py",
        ["+model.colour=red"],
        "model.colour is not a setting of train.py",
    ),
    "an error under DDP, once": (
        "train.py",
        ["trainer=ddp", "trainer.accelerator=cpu", "data.val_batch_size=100000"],
        "too short for 100000 streams",
    ),
    "generate missing checkpoint": ("generate.py", ["ckpt_path={folder}/no.ckpt"], "checkpoint not found"),
    "evaluate training part": ("evaluate.py", ["ckpt_path={ckpt}", "split=train"], "names no held-out part"),
    "evaluate unknown adapt": ("evaluate.py", ["ckpt_path={ckpt}", "split=val", "adapt=foo"], "adapt='foo'"),
    "generate on a missing GPU": (
        "generate.py",
        ["ckpt_path={ckpt}", "device=cuda:7"],
        "use device=cpu or auto",
    ),
    "generate on no device": ("generate.py", ["ckpt_path={ckpt}", "device=floppy"], "device='floppy' is not"),
    "evaluate no test part": ("evaluate.py", ["ckpt_path={ckpt}", "split=test"], "0.0]); use split=val."),
    "evaluate num_steps zero": (
        "evaluate.py",
        ["ckpt_path={ckpt}", "split=val", "num_steps=0"],
        "batch_size=1 and num_steps=0 must both be at least 1.",
    ),
    "ngram cache_order zero": ("ngram.py", [*HELDOUT, "cache_order=0"], "cache_order=0 must be at least 1"),
    "evaluate batch too large": (
        "evaluate.py",
        ["ckpt_path={ckpt}", "split=val", "batch_size=100000"],
        "too short for 100000 streams",
    ),
    "evaluate batch not a number": (
        "evaluate.py",
        ["ckpt_path={ckpt}", "batch_size=abc"],
        "full_key: batch_size",
    ),
    "evaluate a directory": ("evaluate.py", ["ckpt_path={ckpt}", "data.path={folder}"], "is a directory"),
    "evaluate an empty ensemble": (
        "evaluate.py",
        ["ckpt_path={folder}/*/last.ckpt"],
        "no checkpoint matches",
    ),
    "evaluate no checkpoints": ("evaluate.py", ["ckpt_path=[]"], "names no checkpoint"),
    "evaluate diverged checkpoint": ("evaluate.py", ["ckpt_path={nan_ckpt}"], "non-finite weights"),
    "ngram without test part": (
        "ngram.py",
        [*HELDOUT, "data.split=[0.9,0.1,0]"],
        "needs validation and test",
    ),
    "ngram order zero": ("ngram.py", [*HELDOUT, "order=0"], "order=0"),
    "report of no runs": ("report.py", ["{folder}"], "no runs below"),
    "encrypted zip": ("train.py", ["data.path={encrypted}"], "is encrypted; unzip it with its password"),
    "zip of several files": ("train.py", ["data.path={two_files}"], "say which one with data.member=a.txt"),
    "corpus of whitespace only": ("train.py", ["data.path={blank}"], "a single distinct character (' ')"),
    "offline download over FTP": (
        "train.py",
        ["data.path={folder}/jaychou_lyrics.txt.zip", "data.url=ftp://127.0.0.1/jaychou_lyrics.txt.zip"],
        "could not download ftp://127.0.0.1/jaychou_lyrics.txt.zip (ConnectionRefusedError). Offline?",
    ),
    "model too big for memory": (
        "train.py",
        ["model.num_hiddens=1000000000"],
        "not enough memory: the model asked for",
    ),
    "unquoted non-ASCII value": (
        "generate.py",
        ["ckpt_path={ckpt}", "prefixes=[分开]"],
        "Quote a value that is not ASCII",
    ),
    "text file as checkpoint": ("generate.py", ["ckpt_path={text_ckpt}"], "cannot be read as a checkpoint"),
    "tiny file as checkpoint": ("evaluate.py", ["ckpt_path={tiny_ckpt}"], "cannot be read as a checkpoint"),
    "empty checkpoint": ("train.py", ["ckpt_path={empty}"], "is empty (0 bytes)"),
    "directory as checkpoint": (
        "generate.py",
        ["ckpt_path={folder}"],
        "is a directory; pass a checkpoint file",
    ),
    "URL as checkpoint": ("evaluate.py", ["ckpt_path=https://example.org/last.ckpt"], "is a URL; download"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The inputs the cases name: corpora good and bad, a trained checkpoint (2 epochs) and spoilt ones."""
    tmp = tmp_path_factory.mktemp("inputs")
    corpus = tmp / "tiny.txt"
    corpus.write_text(LYRICS, encoding="utf-8")
    (folder := tmp / "folder").mkdir()
    (dangling := tmp / "dangling").symlink_to(tmp / "removed")  # e.g. a link to a disk not mounted
    (empty := tmp / "empty.txt").write_text("")
    (gbk := tmp / "gbk.txt").write_bytes(LYRICS.encode("gbk"))
    with zipfile.ZipFile(gbk_zip := tmp / "gbk.zip", "w") as archive:
        archive.writestr("lyrics.txt", LYRICS.encode("gbk"))
    with zipfile.ZipFile(good_zip := tmp / "good.zip", "w") as archive:
        archive.writestr("lyrics.txt", LYRICS)
    (bad_zip := tmp / "bad.zip").write_bytes(b"PK not really")
    # The same number of distinct characters, other ones: ids would silently mean other characters.
    shifted = tmp / "shifted.txt"
    shifted.write_text("".join(c if c.isspace() else chr(ord(c) + 1) for c in LYRICS), encoding="utf-8")
    (evil := tmp / "evil.ckpt").write_bytes(pickle.dumps(Evil()))
    train(compose_config("train", *tiny_overrides(corpus, tmp / "run")))
    ckpt = tmp / "run" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)
    next(iter(checkpoint["state_dict"].values())).fill_(float("nan"))
    torch.save(checkpoint, nan_ckpt := tmp / "nan.ckpt")
    with zipfile.ZipFile(two_files := tmp / "two.zip", "w") as archive:
        archive.writestr("a.txt", LYRICS)
        archive.writestr("b.txt", LYRICS)
    encrypted = tmp / "encrypted.zip"  # as `zip -P secret` marks a member: bit 0 of its flags
    encrypted.write_bytes(encrypt_flag(good_zip.read_bytes()))
    (blank := tmp / "blank.txt").write_text(" \n  \n\n" * 50)
    (gzipped := tmp / "lyrics.txt.gz").write_bytes(gzip.compress(LYRICS.encode()))
    (utf16 := tmp / "utf16.txt").write_bytes(LYRICS.encode("utf-16"))
    (binary := tmp / "binary.dat").write_bytes(bytes(range(256)) * 40)
    (text_ckpt := tmp / "notes.ckpt").write_text("hello, this is not a checkpoint\n" * 3)
    (tiny_ckpt := tmp / "tiny.ckpt").write_bytes(b"abcd")
    return dict(
        corpus=corpus, folder=folder, empty=empty, gbk=gbk, gbk_zip=gbk_zip, zip=good_zip, bad_zip=bad_zip,
        shifted=shifted, evil=evil, ckpt=ckpt, nan_ckpt=nan_ckpt, dangling=dangling, two_files=two_files,
        encrypted=encrypted, blank=blank, text_ckpt=text_ckpt, tiny_ckpt=tiny_ckpt, gzipped=gzipped,
        utf16=utf16, binary=binary,
    )  # fmt: skip


def encrypt_flag(data: bytes) -> bytes:
    """A zip's bytes with every member marked encrypted, in its local header and its central entry."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start >= 0:
            data[start + offset] |= 0x1
            start = data.find(signature, start + 4)
    return bytes(data)


class Evil:
    def __reduce__(self):
        return (print, ("this code ran",))


@pytest.fixture(scope="module")
def results(files, tmp_path_factory):
    """Every case run once, three at a time: {id: (completed process, its output folder)}."""

    def run(case: str):
        script, extra, _ = CASES[case]
        out = tmp_path_factory.mktemp("out")
        base = {"train.py": TRAIN, "ngram.py": (), "report.py": ()}.get(script, ())
        args = [a.format(**files, out=out) for a in (*base, *extra)]
        return run_script(script, *args, cwd=out, timeout=120), out

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_line(case, results, files):
    result, out = results[case]
    fragment = CASES[case][2].format(**files)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "weights_only" not in result.stderr
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]], result.stderr
    assert fragment in lines[-1]
    assert "this code ran" not in result.stdout
    assert not list(out.rglob("*.ckpt"))
    assert not list(out.rglob(".hydra"))  # a run that never trained leaves no folder behind
