"""Reading the lyrics (zip or txt, downloaded on demand) and the character vocabulary."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import pooch
import requests


class CorpusError(ValueError):
    """A corpus file that cannot be used, with what to do about it in the message."""


def ensure_corpus(path: str | Path, url: str | None = None, sha256: str | None = None) -> Path:
    """Return `path`, downloading it first from `url` when it is missing.

    pooch writes to a temporary file and moves it into place only after the sha256 matched, so a
    failed or corrupt download never leaves a file behind. Only a file whose name matches the URL's
    is downloaded: a mistyped `data.path` must not silently become a copy of the default corpus.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not url or Path(urlparse(url).path).name != path.name:
        raise CorpusError(f"corpus file not found: {path}. Point data.path at an existing .zip or .txt file.")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}" if sha256 else None,
            fname=path.name,
            path=path.parent,
            progressbar=True,
        )
    except requests.RequestException as error:
        raise CorpusError(
            f"could not download {url} ({error}). Offline? Copy {path.name} into {path.parent}/ "
            "or point data.path at a local copy."
        ) from error
    return path


def read_text(path: str | Path, member: str | None = None) -> str:
    """Read UTF-8 text from a plain file or from a zip member (the first one by default)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}. Point data.path at an existing .zip or .txt file.")
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if not names:
                    raise CorpusError(f"{path} holds no files; give a zip with a text file inside.")
                name = member or names[0]
                if name not in names:
                    raise CorpusError(f"{path} has no member {name!r}; set data.member to one of {names}.")
                raw = archive.read(name)
        except zipfile.BadZipFile as error:
            raise CorpusError(
                f"{path} is not a valid zip file ({error}); delete it so that it is downloaded again, "
                "or point data.path at a good copy."
            ) from error
    else:
        raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(
            f"{path} is not UTF-8 text (byte {error.start}: {error.reason}); convert it, e.g. "
            f"`iconv -f GBK -t UTF-8 {path.name} > {path.stem}.utf8.txt`."
        ) from error
    if not text:
        raise CorpusError(f"{path} is empty; give a corpus with some text in it.")
    return text


def preprocess(text: str, num_sample: int | None = None) -> str:
    """The notebook's preprocessing: line breaks become spaces, then the first `num_sample` characters."""
    text = text.replace("\n", " ").replace("\r", " ")
    return text if num_sample is None else text[:num_sample]


class Vocab:
    """Characters <-> indices, in sorted order so every process builds the same mapping."""

    def __init__(self, idx_to_char: Sequence[str]) -> None:
        self.idx_to_char = list(idx_to_char)
        self.char_to_idx = {char: idx for idx, char in enumerate(self.idx_to_char)}
        if len(self.char_to_idx) != len(self.idx_to_char):
            raise ValueError("a vocabulary must not list a character twice")

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.idx_to_char)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - self.char_to_idx.keys())
        if unknown:
            raise ValueError(
                f"characters not in the vocabulary: {''.join(unknown)!r}; use only known characters."
            )
        return [self.char_to_idx[char] for char in text]

    def decode(self, indices: Iterable[int]) -> str:
        return "".join(self.idx_to_char[i] for i in indices)
