"""The studio (scripts/studio.py) and explain.py: its actions in-process, through the HTTP API that
Gradio serves (gradio_client), and against the tools they must agree with (generate.py, evaluate.py)."""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import LYRICS, compose_config, free_port, tiny_overrides

from lyrics_rnn import evaluate, explain, generate
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.kneser_ney import KneserNey
from lyrics_rnn.studio import Limits, Studio, serve
from lyrics_rnn.train import train

SONG = "分开 我不要再想 我不要再想 我不 我不 我不要再想你 不知不觉 你已经离开我"


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """A tiny scratch RNN and a tiny LSTM, trained with the default callbacks; the corpus stays."""
    tmp = tmp_path_factory.mktemp("studio")
    corpus = tmp / "tiny.txt"
    corpus.write_text(LYRICS, encoding="utf-8")
    paths = {}
    for model in ("scratch", "lstm"):
        train(compose_config("train", *tiny_overrides(corpus, tmp / model), f"model={model}"))
        paths[model] = str(tmp / model / "checkpoints" / "last.ckpt")
    return paths


@pytest.fixture(scope="module")
def studio(ckpts):
    return Studio([ckpts["scratch"], ckpts["lstm"]], "cpu", Limits(num_chars=300, read_chars=2000))


def generated(ckpt: str, *settings: str) -> list[str]:
    return generate.run(compose_config("generate", f"ckpt_path={ckpt}", *settings))


def test_write_streams_and_ends_as_generate_py_for_both_models(studio, ckpts):
    pieces = list(studio.write("分开", 40, 0.9, 3, 7, 2))
    assert len(pieces) > 2 and len(pieces[0]) == 3  # two models and the notes
    final = pieces[-1]
    settings = ('prefixes=["分开"]', "num_chars=40", "temperature=0.9", "top_k=3", "num_samples=2")
    for index, model in enumerate(("scratch", "lstm")):
        expected, other_seed = (generated(ckpts[model], *settings, f"seed={seed}") for seed in (7, 8))
        assert final[index] == "\n\n".join("分开" + sample for sample in expected)
        assert final[index] != "\n\n".join("分开" + sample for sample in other_seed)  # the seed counts
    assert "copy rate of each sample" in final[2]


def test_prefix_characters_outside_the_vocabulary_are_a_note_not_an_error(studio):
    *texts, notes = list(studio.write("周杰伦分开", 5, 0.0, 0, 0, 1))[-1]
    assert all(text.startswith("分开") and len(text) == 7 for text in texts)
    assert "'伦周杰' not in the vocabulary: left out." in notes


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (("分开", 301, 0.0, 0, 0, 1), "num_chars=301 must be a whole number in 0..300"),
        (("分开", 5, 0.0, 0, 0, 9), "num_samples=9"),
        (("分开", 5, -1.0, 0, 0, 1), "temperature=-1.0 must be finite"),
        (("分开", 5, 1.0, -2, 0, 1), "top_k=-2"),
        (("", 5, 1.0, 0, 0, 1), "the prefix is empty"),
        (("周", 5, 1.0, 0, 0, 1), "no character of the prefix"),
    ],
)
def test_bad_write_requests_are_refused_before_any_work(studio, settings, message):
    with pytest.raises(LyricsError, match=re.escape(message)):
        next(studio.write(*settings))


def test_read_perplexity_equals_evaluate_py_on_the_same_text(studio, ckpts, tmp_path):
    (text_file := tmp_path / "song.txt").write_text(SONG + "\n" + SONG, encoding="utf-8")
    expected = evaluate.run(
        compose_config("evaluate", f"ckpt_path={ckpts['scratch']}", f"data.path={text_file}")
    )
    fragment, summary = studio.read("text", SONG + "\n" + SONG, "surprisal")
    ppl = float(re.search(r"perplexity ([\d.]+)", summary).group(1))
    assert ppl == pytest.approx(expected, abs=6e-5)  # the summary rounds to 4 decimals, as evaluate.py
    assert fragment.count('class="ch"') == 2 * len(SONG)  # every character but the first is coloured
    assert "expected " in fragment and "bits;" in fragment  # the top guesses, in each hover tip


def test_read_views_against_the_ngram_and_adapted_agree_with_evaluate_py(studio, ckpts):
    fragment, summary = studio.read("val", "", "ngram")
    parts = studio.parts()
    ngram = KneserNey(parts["train"].tolist(), len(studio.models[0].vocab), 6)
    expected = np.exp(-np.mean(np.log(ngram.target_probs(parts["val"].tolist()))))
    assert f"6-gram: perplexity {expected:.4f}" in summary and "blue: the network" in fragment
    _, summary = studio.read("val", "", "adapted", "ngram")
    adapted = evaluate.run(
        compose_config("evaluate", f"ckpt_path={ckpts['scratch']}", "split=val", "adapt=ngram")
    )
    assert f"perplexity {adapted:.4f}" in summary.split("adapt=ngram")[1]


def test_read_limits_and_bad_choices(studio):
    with pytest.raises(LyricsError, match="at most 2,000 are read"):
        studio.read("text", "分开" * 1001, "surprisal")
    with pytest.raises(LyricsError, match="source='train' is not known"):
        studio.read("train", "", "surprisal")
    with pytest.raises(LyricsError, match="view='heat' is not known"):
        studio.read("text", SONG, "heat")
    with pytest.raises(LyricsError, match="adapt='none' is not an adaptation"):
        studio.read("text", SONG, "adapted", "none")


def test_a_unit_shows_the_networks_hidden_state(studio):
    fragment, table, _ = studio.units("text", SONG, "state 1", 3)
    net, vocab = studio.models[0].net, studio.models[0].vocab
    ids = torch.from_numpy(vocab.encode(SONG))
    with torch.no_grad():
        states = [net(ids[: t + 1][None], None)[1] for t in range(len(SONG))]  # H [1, 16] after each
    states = [state[0, 3].item() for state in states]
    shown = [float(v) for v in re.findall(r'title="state 1, unit 3: ([+-][\d.]+)"', fragment)]
    scale = max(1.0, max(abs(s) for s in states))
    assert shown == pytest.approx(states, abs=1e-3) and scale == 1.0  # tanh units need no scaling
    assert table.count("<tr>") == 1 + 3 * 5  # header, then the 5 best units of each property
    with pytest.raises(LyricsError, match="unit=16 must be a whole number in 0..15"):
        studio.units("text", SONG, "state 1", 16)
    with pytest.raises(LyricsError, match="is not a layer"):
        studio.units("text", SONG, "state 9", 0)


def test_explain_writes_the_views_as_one_html_file(ckpts, tmp_path):
    out = explain.run(compose_config("explain", f"ckpt_path={ckpts['lstm']}", f"out={tmp_path / 'v.html'}"))
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count('class="ch"') > 100
    assert "<h2>Units that track the text</h2>" in page and "position in line" in page
    assert not list(tmp_path.glob(".*partial"))


@pytest.fixture(scope="module")
def server(studio):
    """The studio served on a free port, as scripts/studio.py serves it; its address."""
    port = free_port()
    blocks = serve(studio, "127.0.0.1", port, queue_size=16, concurrency=4)
    yield f"http://127.0.0.1:{port}/"
    blocks.close()


def client(address: str):
    gradio_client = pytest.importorskip("gradio_client")
    return gradio_client.Client(address, verbose=False, analytics_enabled=False)


def test_api_streams_a_write_in_pieces_equal_to_the_in_process_one(server, studio):
    job = client(server).submit("分开", 200, 0.8, 0, 3, 1, api_name="/write")
    pieces = list(job)
    assert len(pieces) > 1 and len(pieces[-1][0]) == 202
    assert list(job.outputs()[-1]) == list(list(studio.write("分开", 200, 0.8, 0, 3, 1))[-1])


def test_four_clients_at_once_and_a_bad_request_leave_the_server_serving(server):
    def write(seed: int) -> str:
        return client(server).predict("不分开", 150, 1.0, 0, seed, 1, api_name="/write")[0]

    def bad() -> str:
        return client(server).predict("分开", 5, 0.5, -4, 0, 1, api_name="/write")[0]

    with ThreadPoolExecutor(5) as pool:
        writes = [pool.submit(write, seed) for seed in range(4)]
        failed = pool.submit(bad)
        texts = [w.result(timeout=120) for w in writes]
        with pytest.raises(Exception, match="top_k=-4"):
            failed.result(timeout=120)
    assert len(set(texts)) == 4 and all(len(t) == 153 for t in texts)
    html, summary = client(server).predict("text", SONG, "surprisal", "ngram", api_name="/read")
    assert "perplexity" in summary and 'class="ch"' in html


BROWSER_FLAGS = (  # as root, on a machine with no network: no sandbox, no background connections
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1400",
)


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    """Where the browser test's screenshots go: $TEST_ARTEFACTS when set (kept), else a temporary folder."""
    kept = os.environ.get("TEST_ARTEFACTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium (Debian's chromium and chromium-driver, which .ci/run installs) under Selenium."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no browser: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)
    yield session
    session.quit()


def test_in_a_browser_lyrics_stream_in_and_a_read_colours_the_text(browser, server, studio, artefacts):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(server)
    prefix = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#prefix textarea"))
    prefix.clear()
    prefix.send_keys("不分开")
    browser.find_element(By.ID, "write").click()
    lyrics = browser.find_element(By.CSS_SELECTOR, "#lyrics-0 textarea")
    expected = list(studio.write("不分开", 100, 0.8, 0, 0, 1))[-1][0]  # the page's defaults
    wait.until(lambda _: lyrics.get_property("value") == expected)
    browser.save_screenshot(str(artefacts / "studio-write.png"))

    browser.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Read')]").click()
    text = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#read-text textarea"))
    text.clear()
    text.send_keys(SONG)
    browser.find_element(By.ID, "read").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#read-view span.ch")) == len(SONG) - 1)
    spans = browser.find_elements(By.CSS_SELECTOR, "#read-view span.ch")
    assert all("rgba(220, 40, 40" in span.get_attribute("style") for span in spans)
    assert "bits; expected" in spans[5].get_attribute("title")
    assert "perplexity" in browser.find_element(By.ID, "read-summary").text
    ActionChains(browser).move_to_element(spans[5]).perform()  # the hover tip, in the screenshot
    browser.save_screenshot(str(artefacts / "studio-read.png"))
    assert (artefacts / "studio-read.png").read_bytes().startswith(b"\x89PNG")
