"""The screenshots of docs/serve.md: seqtk serve's page for each task, driven in headless chromium.

Not a benchmark: it serves the checkpoints given (``NAME=CKPT``), opens the page for each in Debian's chromium
through Playwright, gives it the input docs/serve.md shows, and saves ``docs/images/serve-NAME.png``::

    python bench/serve_screenshots.py lm=runs/textgen_shakespeare/<time>/checkpoints/best.pt \\
        bbc=runs/classify_bbc/<time>/checkpoints/best.pt tag=... g2p=... mnist=...

Needs ``apt-get install chromium`` and ``pip install playwright``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: what each kind of page is given: (the input, extra fields to fill)
INPUTS = {
    "textgen": ("ROMEO:", {"#length": "400", "#seed": "1"}),
    "music": ("X:1\nT:", {"#length": "300", "#seed": "1"}),
    "sentiment": ("A gripping, beautifully acted film that never lets go.", {}),
    "classify": ("Shares in the carmaker fell sharply after it cut its profit forecast for the year.", {}),
    "tag": ("The old sailor saw the boats in the harbour at dawn .", {}),
    "seq2seq": ("PHONETIC", {}),
}


def shoot(page, url: str, name: str, task: str, out: Path) -> None:
    page.goto(f"{url}/?model={name}")
    page.wait_for_selector("#run")
    if task == "pixel_mnist":
        draw_seven(page)
    else:
        text, fields = INPUTS.get(task, ("", {}))
        page.fill("#prompt", text)
        for selector, value in fields.items():
            page.fill(selector, value)
    page.click("#run")
    if task in ("textgen", "music"):
        page.wait_for_selector('#output[data-done="1"]', timeout=120_000)
    else:
        page.wait_for_selector("#output > *", timeout=60_000)
    page.screenshot(path=str(out), full_page=True)
    print(f"wrote {out}")


def draw_seven(page) -> None:
    box = page.locator("#canvas").bounding_box()
    points = [(60, 60), (220, 60), (200, 110), (150, 180), (120, 240)]
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=12)
    page.mouse.up()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=CKPT")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    import seqtk
    from seqtk.serve.app import build_app
    from seqtk.serve.hosted import HostedModel
    from seqtk.serve.metrics import Metrics
    from seqtk.serve.server import background
    from seqtk.serve.settings import ServeSettings

    settings, metrics = ServeSettings(), Metrics()
    specs = dict(spec.split("=", 1) for spec in args.models)
    models = {name: HostedModel(name, seqtk.load(path, device="cpu"), settings, metrics) for name, path in specs.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    with background(build_app(models, settings, metrics)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 640})
        for name, hosted in models.items():
            shoot(page, url, name, hosted.predictor.task.name, args.out / f"serve-{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
