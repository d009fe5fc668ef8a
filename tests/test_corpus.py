import functools
import hashlib
import http.server
import threading
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from helpers import read_text

from lyrics_rnn.corpus import CorpusError, ensure_corpus, open_corpus
from lyrics_rnn.vocab import Vocab


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def raw(path: Path, member: str | None = None) -> str:
    """The file's text as it is, line breaks untouched."""
    with open_corpus(path, member) as stream:
        return stream.read()


def test_reads_the_only_member_or_the_named_one_and_asks_which_of_several(tmp_path):
    assert raw(make_zip(tmp_path / "one.zip", {"a.txt": "甲乙".encode()})) == "甲乙"
    path = make_zip(tmp_path / "c.zip", {"a.txt": "甲乙".encode(), "b.txt": "丙".encode()})
    assert raw(path, member="b.txt") == "丙"
    with pytest.raises(
        CorpusError, match=r"holds 2 files \(a.txt, b.txt\); say which one with data.member=a.txt"
    ):
        raw(path)


def test_zip_without_the_member_names_the_members(tmp_path):
    path = make_zip(tmp_path / "c.zip", {"a.txt": b"x"})
    with pytest.raises(CorpusError, match=r"no member 'lyrics.txt'.*data.member.*a.txt"):
        raw(path, member="lyrics.txt")


def test_reads_plain_utf8_text(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("你好\n世界", encoding="utf-8")
    assert raw(path) == "你好\n世界"


def test_non_utf8_text_is_refused_with_a_fix(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("周杰伦".encode("gbk"))
    with pytest.raises(CorpusError, match="not UTF-8.*iconv"):
        raw(path)


def test_missing_file_says_which_override_to_use(tmp_path):
    with pytest.raises(CorpusError, match=r"not found.*data.path"):
        raw(tmp_path / "nope.txt")


def test_corrupt_zip_is_refused(tmp_path):
    path = tmp_path / "bad.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorpusError, match="not a valid zip"):
        raw(path)


def test_empty_corpus_is_refused(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty"):
        raw(path)


def test_preprocessing_replaces_line_breaks_as_text_mode_reads_them_and_truncates(tmp_path):
    (path := tmp_path / "c.txt").write_bytes("\ufeffa\nb\r\nc\rd".encode())
    assert read_text(path) == "a b c d"  # one space per line break, no BOM
    (path := tmp_path / "d.txt").write_bytes(b"a\nbcdef")
    assert read_text(path, num_sample=3) == "a b"


def test_real_corpus_matches_reference(real_corpus):
    text = raw(real_corpus)
    assert len(text) == 63282 and len(set(text)) == 2583  # the file as REFERENCE.md describes it
    sample = read_text(real_corpus, num_sample=10000)
    assert len(sample) == 10000 and len(Vocab.from_text(sample)) == 1027


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/served over HTTP on loopback."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_checks_the_hash_and_moves_into_place(http_server, tmp_path):
    served, base = http_server
    data = make_zip(served / "lyrics.zip", {"l.txt": "分开".encode()}).read_bytes()
    target = tmp_path / "data" / "lyrics.zip"
    path = ensure_corpus(target, f"{base}/lyrics.zip", hashlib.sha256(data).hexdigest())
    assert path == target and target.read_bytes() == data
    assert raw(path) == "分开"


def test_download_with_wrong_hash_leaves_nothing(http_server, tmp_path):
    served, base = http_server
    make_zip(served / "lyrics.zip", {"l.txt": b"x"})
    target = tmp_path / "data" / "lyrics.zip"
    with pytest.raises(CorpusError, match=r"could not download .*hash.*check data.url and data.sha256"):
        ensure_corpus(target, f"{base}/lyrics.zip", "0" * 64)
    assert list(target.parent.iterdir()) == []


def test_a_missing_download_names_the_servers_answer_not_the_network(http_server, tmp_path):
    _, base = http_server
    with pytest.raises(CorpusError, match="the server answered 404; check data.url"):
        ensure_corpus(tmp_path / "data" / "lyrics.zip", f"{base}/lyrics.zip", None)


def test_a_url_pooch_cannot_fetch_is_one_clear_error(tmp_path):
    with pytest.raises(CorpusError, match=r"could not download file:///nowhere/lyrics.zip: .*protocol"):
        ensure_corpus(tmp_path / "lyrics.zip", "file:///nowhere/lyrics.zip", None)


def test_offline_download_says_where_to_put_the_file(tmp_path):
    target = tmp_path / "data" / "lyrics.zip"
    with pytest.raises(CorpusError, match=r"could not download.*Copy lyrics.zip into"):
        ensure_corpus(target, "http://127.0.0.1:9/lyrics.zip", "0" * 64)
    assert not target.exists()


def test_a_mistyped_path_is_not_downloaded_under_its_name(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        ensure_corpus(tmp_path / "mylyrics.txt", "http://127.0.0.1:9/lyrics.zip", None)


def test_a_zip_bomb_is_streamed_or_refused(tmp_path):
    """315 MB of text in a 460 KB zip: 2000 characters are read without inflating the rest (Python's
    allocations peak under 10 MB), and reading it whole is refused above data.max_bytes."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("a.txt", "w") as member:
        for _ in range(300):
            member.write(("分开 " * 150_000).encode())
    tracemalloc.start()
    text = read_text(bomb, num_sample=2000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(text) == 2000 and peak < 10_000_000
    with pytest.raises(CorpusError, match="data.max_bytes=100000000"):
        read_text(bomb, max_bytes=100_000_000)
