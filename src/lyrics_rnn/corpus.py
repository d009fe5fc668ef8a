"""Reading a corpus file (zip or txt, downloaded on demand) as preprocessed chunks of code points."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO
from urllib.parse import urlparse

import charset_normalizer
import numpy as np
import pooch
import requests

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.vocab import code_points


class CorpusError(LyricsError):
    """A corpus file that cannot be used, with what to do about it in the message."""


def ensure_corpus(path: str | Path, url: str | None = None, sha256: str | None = None) -> Path:
    """Return `path`, downloading it first from `url` when it is missing.

    pooch writes to a temporary file and moves it into place only after the sha256 matched, so a
    failed or corrupt download never leaves a file behind. Only a file whose name matches the URL's
    is downloaded: a mistyped `data.path` must not silently become a copy of the default corpus.
    """
    path = Path(path)
    if _is_file(path):
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
    except requests.HTTPError as error:
        raise CorpusError(
            f"could not download {url}: the server answered {error.response.status_code}; check data.url, "
            f"or copy {path.name} into {path.parent}/ yourself."
        ) from error
    except (requests.RequestException, ConnectionError, TimeoutError) as error:  # HTTP(S), then FTP
        raise CorpusError(
            f"could not download {url} ({type(error).__name__}). Offline? Copy {path.name} into {path.parent}/ "
            "or point data.path at a local copy."
        ) from error
    except ValueError as error:  # pooch: a checksum that does not match, a URL protocol it does not know
        raise CorpusError(
            f"could not download {url}: {one_sentence(error)}. Nothing was kept; check data.url and "
            f"data.sha256, or copy {path.name} into {path.parent}/ yourself."
        ) from error
    return path


def one_sentence(error: Exception) -> str:
    """The first sentence of a library's message, on one line."""
    return " ".join(str(error).split()).split(". ")[0].rstrip(".")


MAX_BYTES = 2**31  # data.max_bytes: a bigger corpus, read whole, is refused rather than exhausting memory


def _is_file(path: Path) -> bool:
    """True for a regular file, False for nothing there; a folder, device or pipe is refused by name."""
    if path.is_dir():
        raise CorpusError(f"data.path={path} is a directory, not a file; point it at a .zip or .txt file.")
    if path.exists() and not path.is_file():
        raise CorpusError(
            f"data.path={path} is not a regular file (a device, pipe or socket); point it at a .zip or .txt file."
        )
    return path.exists()


@contextlib.contextmanager
def open_corpus(
    path: str | Path, member: str | None = None, max_chars: int | None = None, max_bytes: int = MAX_BYTES
) -> Iterator[TextIO]:
    """The corpus (a plain file, or a zip member: the first one by default) as a UTF-8 text stream with
    line breaks untranslated, read lazily; refused above `max_bytes` unless `max_chars` bounds the read."""
    path = Path(path)
    if not _is_file(path):
        raise CorpusError(f"corpus file not found: {path}. Point data.path at an existing .zip or .txt file.")
    with contextlib.ExitStack() as stack:
        if path.suffix.lower() == ".zip":
            archive = stack.enter_context(_open_zip(path))
            name = _member(archive, path, member)
            size, stream = archive.getinfo(name).file_size, stack.enter_context(archive.open(name))
            where, source, out = (
                f"member {name!r} of {path}",
                f"unzip -p {path.name} {name} | ",
                Path(name).stem,
            )
        else:
            size, stream = path.stat().st_size, stack.enter_context(open(path, "rb"))
            where, source, out = str(path), "", f"{path.stem}.utf8"
        needed = size if max_chars is None else min(size, 4 * max_chars)  # UTF-8: at most 4 bytes a character
        if needed > max_bytes:
            raise CorpusError(
                f"{where} would take {needed} bytes, above data.max_bytes={max_bytes}: read less "
                "(data.num_sample) or raise data.max_bytes if the memory is there."
            )
        if size == 0:
            raise CorpusError(f"{where} is empty; give a corpus with some text in it.")
        try:
            yield io.TextIOWrapper(stream, encoding="utf-8", newline="")
        except UnicodeDecodeError as error:
            with _open_zip(path) if path.suffix.lower() == ".zip" else open(path, "rb") as opened:
                sample = (
                    opened.open(name).read(SNIFF_BYTES)
                    if isinstance(opened, zipfile.ZipFile)
                    else opened.read(SNIFF_BYTES)
                )
            raise CorpusError(f"{where} {not_utf8(sample, source, out, path.name)}") from error


SNIFF_BYTES = 1 << 16  # how much of a file that is not UTF-8 is read to tell what it is


def not_utf8(sample: bytes, source: str, out: str, name: str) -> str:
    """What a file that is not UTF-8 text is, and the command that makes it usable: a compressed file,
    a binary, or text in another encoding (detected by charset-normalizer; converted with iconv)."""
    if sample.startswith(b"\x1f\x8b"):
        return f"is gzip-compressed, not text; decompress it (`gunzip -k {name}`) and point data.path at the result."
    if sample.startswith((b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")):
        return "is compressed (bzip2, xz or zstd), not text; decompress it and point data.path at the result."
    if sample[257:262] == b"ustar":
        return f"is a tar archive, not text; unpack it (`tar -xf {name}`) and point data.path at a text file in it."
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "UTF-16"
    else:
        guess = charset_normalizer.from_bytes(sample).best()
        if guess is None or (b"\x00" in sample and not guess.encoding.startswith("utf_16")):
            return "is not text (binary data); point data.path at a text file."
        encoding = guess.encoding.upper().replace("_", "-")
    command = f"{source}iconv -f {encoding} -t UTF-8 {'' if source else name + ' '}> {out}.txt"
    return f"is {encoding} text, not UTF-8; convert it, e.g. `{command}`, and point data.path at the result."


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise CorpusError(
            f"{path} is not a valid zip file ({error}); delete it so that it is downloaded again, "
            "or point data.path at a good copy."
        ) from error


def _member(archive: zipfile.ZipFile, path: Path, member: str | None) -> str:
    names = [n for n in archive.namelist() if not n.endswith("/")]
    if not names:
        raise CorpusError(f"{path} holds no files; give a zip with a text file inside.")
    if (member or names[0]) not in names:
        raise CorpusError(f"{path} has no member {member!r}; set data.member to one of {names[:10]}.")
    if member is None and len(names) > 1:
        raise CorpusError(
            f"{path} holds {len(names)} files ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}); "
            f"say which one with data.member={names[0]}, or give a zip of one file."
        )
    if archive.getinfo(member or names[0]).flag_bits & 0x1:
        raise CorpusError(
            f"{path}: {member or names[0]!r} is encrypted; unzip it with its password and point data.path "
            "at the text file."
        )
    return member or names[0]


def raw_chars(num_sample: int | None) -> int | None:
    """The most characters of the file that `num_sample` preprocessed ones can take ("\\r\\n" -> one
    space; a byte-order mark)."""
    return None if num_sample is None else 2 * num_sample + 1


CHUNK_CHARS = 1 << 23  # characters read at a time: memory stays flat whatever the corpus's size
SPACE, CR, LF = (ord(c) for c in " \r\n")


def preprocessed_chunks(
    path: str | Path, member: str | None = None, num_sample: int | None = None, max_bytes: int = MAX_BYTES
) -> Iterator[np.ndarray]:
    """The notebook's preprocessing, as arrays of code points read a chunk at a time: each line break
    (\\n, \\r\\n or \\r, as a text-mode read sees them) becomes one space, a leading byte-order mark is
    dropped, then the first `num_sample` characters only (no more of the file is read)."""
    left, budget, first, held_cr = num_sample, raw_chars(num_sample), True, False
    with open_corpus(path, member, budget, max_bytes) as stream:
        while left is None or left > 0:
            text = stream.read(CHUNK_CHARS if budget is None else min(CHUNK_CHARS, budget))
            if not text:
                return
            budget = None if budget is None else budget - len(text)
            codes = code_points(text.removeprefix("\ufeff") if first else text)
            first = False
            if held_cr and len(codes) and codes[0] == LF:  # the \n of a \r\n cut by the chunk boundary
                codes = codes[1:]
            held_cr = bool(len(codes)) and codes[-1] == CR
            pairs = (codes[:-1] == CR) & (codes[1:] == LF)
            codes = codes[np.concatenate([[True], ~pairs])] if len(codes) else codes  # \r\n -> \r
            codes = np.where((codes == CR) | (codes == LF), SPACE, codes).astype(np.uint32)
            if left is not None:
                codes, left = codes[:left], left - min(left, len(codes))
            if len(codes):
                yield codes
