"""Univariate series: Mauna Loa CO2 and sunspots from the statsmodels wheel, or a CSV of your own.

statsmodels is never installed: its wheel (a zip) is fetched once with
:func:`seqtk.data.fetch.fetch`, pinned to one file by name, size and SHA-256, and
the data set's CSV is extracted from it. pip would pick a different wheel on
each Python and platform, so the download asks for the pinned CPython 3.11
manylinux file explicitly; only its data files are read, so it serves every
machine.

Mauna Loa CO2 (``statsmodels/datasets/co2/co2.csv``) is weekly, March 1958 to
December 2001, with 59 missing weeks. We average the weeks of each calendar
month (526 months) and fill the 5 months without any measurement (1958-06,
1958-10, 1964-02 to 1964-04) by linear interpolation between their neighbours.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from seqtk.data.archives import extract_member
from seqtk.data.fetch import Pinned, data_dir, downloads_dir, fetch
from seqtk.errors import SeqtkError, suggest

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

STATSMODELS = Pinned(
    name="the statsmodels 0.14.4 wheel (for its CO2 and sunspots data sets)",
    filename="statsmodels-0.14.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="e332c2d9b806083d1797231280602340c5c913f90d4caa0213a6a54679ce9331",
    size=10_752_529,
    pip_spec="statsmodels==0.14.4",
)
# Ask pip for the pinned wheel whatever Python and platform run seqtk (we only read its CSV files).
WHEEL_FLAGS = ["--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
               "--implementation", "cp", "--abi", "cp311"]
MEMBERS = {"co2": "statsmodels/datasets/co2/co2.csv", "sunspots": "statsmodels/datasets/sunspots/sunspots.csv"}
MISSING = {"", "na", "nan", "null", "none", "-"}


@dataclass
class Series:
    """``values`` (N,) float64; ``times`` x positions for plots (decimal years, or row numbers); ``labels`` per step."""

    name: str
    values: Tensor
    times: list[float]
    labels: list[str]
    unit: str = ""


def load_series(source: str, path: str | None, value_column: str = "", time_column: str = "",
                console: Console | None = None) -> Series:
    """The CSV at ``path`` if given, else the built-in ``source`` (co2 or sunspots)."""
    if path:
        return read_csv(Path(path), value_column, time_column)
    csv_path = dataset_csv(source, console)
    return co2_monthly(csv_path) if source == "co2" else sunspots(csv_path)


def dataset_csv(source: str, console: Console | None = None) -> Path:
    """The built-in data set's CSV, extracted from the pinned wheel on first use."""
    dest = data_dir() / "forecast" / f"{source}.csv"
    if not dest.exists():
        wheel = fetch(STATSMODELS, console, downloader=_pip_wheel)
        extract_member(wheel, MEMBERS[source], dest)
    return dest


def _pip_wheel(pinned: Pinned, tmp: Path, console: Console) -> Path:
    """``pip download`` of exactly the pinned wheel (hash-checked by pip too) into ``tmp``."""
    req = tmp / "requirements.txt"
    req.write_text(f"{pinned.pip_spec} --hash=sha256:{pinned.sha256}\n", encoding="utf-8")
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", *WHEEL_FLAGS]
    with console.status(f"pip download {pinned.pip_spec} ({pinned.size / 1e6:.1f} MB)"):
        proc = subprocess.run([*base, f"--requirement={req}", "-d", str(tmp)], capture_output=True, text=True)
    path = tmp / pinned.filename
    if proc.returncode != 0 or not path.exists():
        lines = (proc.stdout + proc.stderr).strip().splitlines() or ["pip produced no output"]
        by_hand = " ".join([*base[2:], pinned.pip_spec or "", "-d", str(downloads_dir())])
        raise SeqtkError(
            f"could not download {pinned.name}: {lines[-1].strip()}",
            fix=f"connect to PyPI (or configure pip's index/proxy) and retry; or run `python {by_hand}`; "
            "or set data.path to a CSV of your own series",
        )
    return path


def co2_monthly(path: Path) -> Series:
    """Weekly Mauna Loa CO2 -> monthly means, months without data interpolated."""
    weeks: dict[tuple[int, int], list[float]] = defaultdict(list)
    for row in _rows(path):
        date, value = row["date"], row["co2"].strip()
        weeks[(int(date[:4]), int(date[4:6]))]  # every month seen gets an entry, measured or not
        if value:
            weeks[(int(date[:4]), int(date[4:6]))].append(float(value))
    (y0, m0), (y1, m1) = min(weeks), max(weeks)
    months = [(y, m) for y in range(y0, y1 + 1) for m in range(1, 13) if (y0, m0) <= (y, m) <= (y1, m1)]
    means = [sum(weeks[k]) / len(weeks[k]) if weeks.get(k) else math.nan for k in months]
    return Series("Mauna Loa CO2 (monthly)", interpolate_gaps(means, "co2"), [y + (m - 1) / 12 for y, m in months],
                  [f"{y}-{m:02d}" for y, m in months], "ppm")


def sunspots(path: Path) -> Series:
    """Yearly mean sunspot numbers, 1700-2008."""
    rows = list(_rows(path))
    years = [float(r["YEAR"]) for r in rows]
    values = interpolate_gaps([float(r["SUNACTIVITY"]) for r in rows], "sunspots")
    return Series("Sunspots (yearly)", values, years, [str(int(y)) for y in years], "sunspot number")


def read_csv(path: Path, value_column: str = "", time_column: str = "") -> Series:
    """A series from a CSV with a header row; missing values are interpolated linearly."""
    if not path.is_file():
        raise SeqtkError(
            f"the series file '{path.resolve()}' does not exist",
            fix="set data.path to a CSV with a header row and one row per time step (the electricity recipe "
            "expects opsd_germany_daily.csv from Open Power System Data, data.open-power-system-data.org); "
            "or run recipes/forecast_co2.toml, whose series seqtk fetches itself",
        )
    rows = list(_rows(path))
    if not rows:
        raise SeqtkError(f"'{path}' has no data rows", fix="give it a header line and one row per time step")
    columns = list(rows[0])
    value_column = value_column or columns[-1]
    for key, name in (("value_column", value_column), ("time_column", time_column)):
        if name and name not in columns:
            raise SeqtkError(f"'{path}' has no column '{name}'.{suggest(name, columns)} Its columns: {', '.join(columns)}",
                             fix=f"set data.{key} to one of them")
    values = [_number(row[value_column], path, line, value_column) for line, row in enumerate(rows, start=2)]
    labels = [row[time_column] for row in rows] if time_column else [str(i) for i in range(len(rows))]
    series = interpolate_gaps(values, str(path))
    start = next(i for i, v in enumerate(values) if not math.isnan(v))  # leading gaps are dropped
    labels = labels[start : start + len(series)]
    return Series(f"{path.name}: {value_column}", series, [float(i) for i in range(len(series))], labels)


def interpolate_gaps(values: list[float], source: str) -> Tensor:
    """Fill NaN gaps linearly between their neighbours; drop leading and trailing gaps.

    >>> interpolate_gaps([float("nan"), 1.0, float("nan"), 3.0, float("nan")], "x").tolist()
    [1.0, 2.0, 3.0]
    """
    known = [i for i, v in enumerate(values) if not math.isnan(v)]
    if len(known) < 2:
        raise SeqtkError(f"{source} has fewer than two values", fix="use a longer series")
    out = list(values[known[0] : known[-1] + 1])
    base = known[0]
    for a, b in zip(known, known[1:]):
        for i in range(a + 1, b):  # a gap: a straight line from values[a] to values[b]
            out[i - base] = values[a] + (values[b] - values[a]) * (i - a) / (b - a)
    return torch.tensor(out, dtype=torch.float64)


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return [{k.strip(): (v or "") for k, v in row.items() if k is not None} for row in csv.DictReader(f)]
    except UnicodeDecodeError as exc:
        raise SeqtkError(f"'{path}' is not UTF-8 text (byte {exc.start})", fix="save it as UTF-8 CSV") from exc


def _number(text: str, path: Path, line: int, column: str) -> float:
    if text.strip().lower() in MISSING:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise SeqtkError(f"'{path}' line {line}: '{text}' in column '{column}' is not a number",
                         fix="correct the value, or leave it empty to have it interpolated") from None
