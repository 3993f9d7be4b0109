"""Does ``seqtk predict --file big.csv --column text --out preds.jsonl`` keep memory flat? Ratios from one run.

A small classifier is trained on a generated CSV (seconds), then the CLI
predicts a CSV of ``--small`` rows and one of ``--large`` rows (default 100k
and 1M), each in its own process; the peak resident memory of each process
is read from ``getrusage``. The last line printed is one JSON object:

- ``rss_large_vs_small``: peak memory at ``--large`` rows over ``--small``
  rows. Goal <= 1.2 (flat: the CLI holds one chunk of inputs at a time).
- ``rows_per_s``: the large file's rows per second, end to end (reading,
  tokenizing, the model, writing JSONL), on this machine.

Run: ``python bench/predict_stream.py [--small 100000] [--large 1000000]``
(about two minutes on 2 CPU cores at the defaults).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = {"time": ["clock", "hour", "late"], "weather": ["rain", "sunny", "cold"], "music": ["song", "radio", "album"]}


def write_csv(path: Path, rows: int) -> None:
    labels = list(WORDS)
    with path.open("w", encoding="utf-8") as out:
        out.write("id,text,label\n")
        for i in range(rows):
            label = labels[i % 3]
            out.write(f"{i},what about the {WORDS[label][i % 3]} today number {i % 97},{label}\n")


def train(folder: Path) -> Path:
    write_csv(folder / "train.csv", 600)
    recipe = folder / "r.toml"
    recipe.write_text(f'[task]\nname = "classify"\n[data]\npath = "{folder / "train.csv"}"\n'
                      '[train]\nmax_steps = 30\neval_every = 30\ndevice = "cpu"\n[log]\nprogress = false\ntensorboard = false\n')
    subprocess.run([sys.executable, "-m", "seqtk", "run", str(recipe), "--out", str(folder / "run")], check=True,
                   capture_output=True)
    return folder / "run" / "checkpoints" / "last.pt"


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Peak resident memory (MB) and wall seconds of ``cmd`` run in a fresh child process."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ckpt = train(folder)
        results = {}
        for name, rows in (("small", args.small), ("large", args.large)):
            write_csv(folder / f"{name}.csv", rows)
            cmd = [sys.executable, "-m", "seqtk", "predict", str(ckpt), "--file", str(folder / f"{name}.csv"),
                   "--column", "text", "--out", str(folder / f"{name}.jsonl")]
            rss, seconds = peak_rss_mb(cmd)
            lines = sum(1 for _ in (folder / f"{name}.jsonl").open(encoding="utf-8"))
            assert lines == rows, (lines, rows)
            results[name] = (rows, rss, seconds)
            print(f"{rows:>9,} rows: peak {rss:,.0f} MB, {seconds:.1f} s ({rows / seconds:,.0f} rows/s)", flush=True)
    (_, small_rss, _), (large_rows, large_rss, large_s) = results["small"], results["large"]
    print(json.dumps({"rss_large_vs_small": round(large_rss / small_rss, 3), "rows_per_s": round(large_rows / large_s),
                      "small_rows": args.small, "large_rows": args.large, "time": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()
