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
STEPS = ["amp", "cudnn", "ddp", "doctor", "generate", "pytest", "scan", "textgen"]


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("SEQTK_PLUGIN_DIR", None)
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
    assert report["generate"]["batch_64_chars_s"] > 0 and report["generate"]["batch_1_eager_chars_s"] > 0
    assert report["generate"]["greedy_equal"] and report["generate"]["batch_8_same_sample"]
    assert report["scan"]["min_gru_vs_lstm_T32"] > 0 and report["scan"]["mlstm_hidden"] >= 8
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
    (work / "pytest.json").write_text(json.dumps({"summary": "17 passed, 1 error", "error": 1, "passed": 17}))
    (work / "textgen.status").write_text("124 300\n")  # killed by its time limit: no result file
    (work / "ddp.status").write_text("1 12\n")
    (work / "ddp.json").write_text(json.dumps({"returncode": 1, "backend": None, "checkpoint": False}))
    out = tmp_path / "report.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--work", str(work), "summarize",
                    "--out", str(out)], check=True)
    report = json.loads(out.read_text())
    goals = report["goals"]
    assert goals["amp_bf16_vs_fp32_charlm"]["met"] is True and goals["cudnn_vs_reference_lstm"]["met"] is False
    assert goals["pytest_gpu"]["met"] is False and goals["cudnn_kept"]["met"] is True  # an error is no pass
    assert goals["ddp_nccl"]["met"] is False
    assert goals["tiny_recipes_on_cuda"]["met"] is None  # not run (--only): no verdict
    assert report["steps"]["textgen"] == {"returncode": 124, "seconds": 300} and "textgen" not in report


def test_pytest_counts_come_from_the_closing_line(tmp_path):
    log = tmp_path / "pytest.log"
    log.write_text("....\nFAILED tests/x.py::t - boom\n2 failed, 16 passed, 1 skipped, 866 deselected in 40.2s\n")
    out = tmp_path / "pytest.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "pytest", "--log", str(log),
                    "--out", str(out)], check=True)
    assert json.loads(out.read_text()) == {"summary": "2 failed, 16 passed, 1 skipped, 866 deselected in 40.2s",
                                           "failed": 2, "passed": 16, "skipped": 1, "deselected": 866}


def test_the_deadline_stops_steps_and_the_report_says_so(tmp_path):
    done = run_script("--dry-run", "--only", "doctor,ddp", "--deadline", "0", "--out", str(tmp_path / "rel"))
    assert done.returncode == 1 and "not run, the deadline (0s) is reached" in done.stdout
    report = json.loads((tmp_path / "rel" / "gpu_check.json").read_text())
    assert report["steps"] == {"ddp": {"returncode": 124, "seconds": 0}, "doctor": {"returncode": 124, "seconds": 0}}


def test_a_failed_torchrun_run_fails_its_step(tmp_path):
    env = dict(os.environ, SEQTK_PLUGIN_DIR=str(tmp_path / "missing"))
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--work", str(tmp_path), "--dry-run",
                           "ddp", "--out", str(tmp_path / "ddp.json")], capture_output=True, text=True, env=env)
    assert done.returncode != 0 and "did not train under DDP" in done.stderr
    assert json.loads((tmp_path / "ddp.json").read_text())["returncode"] == 1


@pytest.mark.parametrize("args, message", [([], "--out DIR is required"), (["--what"], "unknown argument '--what'"),
                                           (["--out"], "--out needs a value"),
                                           (["--out", "x", "--only", "doctor,gpus"], "unknown step 'gpus'"),
                                           (["--out", "x", "--budget", "abc"], "'abc' is not a whole number")])
def test_bad_arguments_name_the_fix(args, message):
    done = run_script(*args)
    assert done.returncode == 2 and message in done.stderr and "Fix:" in done.stderr
