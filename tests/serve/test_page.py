"""The web page of seqtk serve, driven in a real headless browser (Debian's chromium, through Playwright).

Skipped when either is missing: ``apt-get install chromium`` and ``pip install playwright`` bring them (no
browser download; Playwright drives the system's chromium)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium")]

import seqtk
from seqtk.serve.app import build_app
from seqtk.serve.hosted import HostedModel
from seqtk.serve.metrics import Metrics
from seqtk.serve.server import background
from seqtk.serve.settings import ServeSettings
from seqtk.testing import train_recipe


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    (folder / "t.txt").write_text("the quick brown fox jumps over the lazy dog.\n" * 40, encoding="utf-8")
    rows = [f"{w} {i} o'clock,{label}" for i in range(30) for label, w in [("time", "clock"), ("rain", "umbrella")]]
    (folder / "q.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    tail = '[train]\nmax_steps = 6\neval_every = 6\nbatch_size = 8\ndevice = "cpu"\n[log]\nprogress = false\n'
    paths = {
        "lm": train_recipe(folder, "lm", f'[task]\nname = "textgen"\n[data]\npath = "{folder / "t.txt"}"\nseq_len = 16\n'
                           '[model]\nhidden_size = 12\nembedding_dim = 8\nnum_layers = 1\n' + tail),
        "clf": train_recipe(folder, "clf", f'[task]\nname = "classify"\n[data]\npath = "{folder / "q.csv"}"\n'
                            '[model]\nembedding_dim = 8\n[[model.layers]]\ncell = "gru"\nhidden_size = 6\n' + tail),
    }
    settings, metrics = ServeSettings(), Metrics()
    models = {name: HostedModel(name, seqtk.load(path, device="cpu"), settings, metrics) for name, path in paths.items()}
    with background(build_app(models, settings, metrics)) as url:
        yield url, paths


@pytest.fixture(scope="module")
def page(served):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser.new_page()
        browser.close()


def test_a_language_model_streams_the_text_its_seed_gives(served, page):
    url, paths = served
    page.goto(url + "/?model=lm")
    page.fill("#prompt", "the q")
    page.fill("#length", "60")
    page.fill("#seed", "3")
    page.click("#run")
    page.wait_for_selector('#output[data-done="1"]', timeout=30_000)
    expected = seqtk.load(paths["lm"], device="cpu").generate("the q", 60, temperature=0.8, seed=3)
    assert page.inner_text("#output") == expected
    assert "chars" in page.inner_text("#rate")  # the rate shows while the text streams in


def test_a_classifier_shows_its_top_labels_as_bars(served, page):
    url, paths = served
    page.goto(url + "/")
    page.click('nav button[data-model="clf"]')
    page.fill("#prompt", "clock 7 o'clock")
    page.click("#run")
    page.wait_for_selector(".bar", timeout=30_000)
    labels = [bar.get_attribute("data-label") for bar in page.query_selector_all(".bar")]
    [expected] = seqtk.load(paths["clf"], device="cpu").predict(["clock 7 o'clock"], top_k=5)
    assert labels == [top["label"] for top in expected["top"]]


def test_a_refusal_shows_the_servers_error_and_fix(served, page):
    url, _ = served
    page.goto(url + "/?model=lm")
    page.fill("#length", "999999")
    page.click("#run")
    error = page.wait_for_selector('[data-testid="error"]', timeout=30_000).inner_text()
    assert "more than this server generates" in error and "Fix:" in error
