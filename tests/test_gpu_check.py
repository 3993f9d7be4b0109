"""bench/gpu_check.sh: its dry run (the same code on the CPU, tiny sizes) and its goal checking.

The GPU run itself needs a GPU loan (issue 20); this keeps the script from rotting between loans.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu_check.sh"
STEPS = ["amp", "cudnn", "ddp", "doctor", "generate", "pytest", "textgen"]


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("WORLD_SIZE", None)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)


def test_dry_run_runs_every_step_on_the_cpu(tmp_path):
    done = run_script("--dry-run", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "gpu_check.log").read_text()
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert sorted(report["steps"]) == STEPS
    assert all(step["returncode"] == 0 for step in report["steps"].values()), report["steps"]
    assert report["dry_run"] and all(goal["met"] is None for goal in report["goals"].values() if goal["met"] is not True)
    assert report["doctor"]["cuda"]["available"] in (True, False) and report["doctor"]["plugins"]["tasks"]
    assert report["pytest"]["deselected"] > 0 and "collected" in report["pytest"]["summary"]
    assert report["amp"]["charlm"]["rates"]["fp32"] > 0 and report["amp"]["sentiment"]["rates"]["fp32"] > 0
    assert report["cudnn"]["speed"]["recipe_shape"]["ratio"] > 0 and report["cudnn"]["cases"]
    assert report["generate"]["batch_64_chars_s"] > 0
    assert report["textgen"]["val_loss_last"] is not None and report["textgen"]["max_steps"] >= 10
    assert report["ddp"] == {"returncode": 0, "backend": "gloo", "checkpoint": True}
    assert "== textgen: exit 0" in (tmp_path / "gpu_check.log").read_text()


def test_summary_checks_the_goals_and_keeps_failed_steps(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "amp.status").write_text("0 20\n")
    (work / "amp.json").write_text(json.dumps({"charlm": {"bf16_vs_fp32": 1.7}}))
    (work / "cudnn.status").write_text("0 9\n")
    (work / "cudnn.json").write_text(json.dumps({"speed": {"recipe_shape": {"ratio": 6.0}}, "cudnn_kept": True}))
    (work / "pytest.status").write_text("1 30\n")
    (work / "pytest.json").write_text(json.dumps({"summary": "1 failed, 17 passed", "failed": 1, "passed": 17}))
    (work / "textgen.status").write_text("124 300\n")  # killed by its time limit: no result file
    out = tmp_path / "report.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--work", str(work), "summarize",
                    "--out", str(out)], check=True)
    report = json.loads(out.read_text())
    goals = report["goals"]
    assert goals["amp_bf16_vs_fp32_charlm"]["met"] is True and goals["cudnn_vs_reference_lstm"]["met"] is False
    assert goals["pytest_gpu"]["met"] is False and goals["cudnn_kept"]["met"] is True
    assert report["steps"]["textgen"] == {"returncode": 124, "seconds": 300} and "textgen" not in report


def test_pytest_counts_come_from_the_closing_line(tmp_path):
    log = tmp_path / "pytest.log"
    log.write_text("....\nFAILED tests/x.py::t - boom\n2 failed, 16 passed, 1 skipped, 866 deselected in 40.2s\n")
    out = tmp_path / "pytest.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "pytest", "--log", str(log),
                    "--out", str(out)], check=True)
    assert json.loads(out.read_text()) == {"summary": "2 failed, 16 passed, 1 skipped, 866 deselected in 40.2s",
                                           "failed": 2, "passed": 16, "skipped": 1, "deselected": 866}


@pytest.mark.parametrize("args, message", [([], "--out DIR is required"), (["--what"], "unknown argument '--what'")])
def test_bad_arguments_name_the_fix(args, message):
    done = run_script(*args)
    assert done.returncode == 2 and message in done.stderr and "Fix:" in done.stderr
