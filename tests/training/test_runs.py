"""Run folders (seqtk/training/runs.py): fresh names, the latest run, what --resume points at."""

from __future__ import annotations

import pytest

from seqtk.errors import SeqtkError
from seqtk.training.runs import latest_run, new_run_dir, resume_checkpoint


def test_latest_run_and_resume_paths(tmp_path):
    root = tmp_path / "runs" / "r"
    for name in ("20240101-120000", "20240101-120000-2", "20240101-120000-10", "20250101-000000", "notes"):
        (root / name / "checkpoints").mkdir(parents=True)
    for name in ("20240101-120000", "20240101-120000-2", "20240101-120000-10", "notes"):
        (root / name / "checkpoints" / "last.pt").touch()
    assert latest_run(tmp_path / "runs", "r") == root / "20240101-120000-10"  # 20250101 has no checkpoint
    assert latest_run(tmp_path / "runs", "other") is None
    run = root / "20240101-120000"
    assert resume_checkpoint(run, tmp_path, "r") == run / "checkpoints" / "last.pt"
    assert resume_checkpoint(run / "checkpoints" / "last.pt", tmp_path, "r") == run / "checkpoints" / "last.pt"
    assert resume_checkpoint(True, tmp_path / "runs", "r") == root / "20240101-120000-10/checkpoints/last.pt"
    with pytest.raises(SeqtkError, match="holds no checkpoints/last.pt"):
        resume_checkpoint(root / "20250101-000000", tmp_path, "r")
    with pytest.raises(SeqtkError, match="already holds a training run"):
        new_run_dir(tmp_path, "r", out=run)


def test_claim_holds_a_run_folder_for_one_process_and_tidies_up(tmp_path):
    from seqtk.training.runs import LOCK_NAME, claim

    run = tmp_path / "run"
    with claim(run):
        assert (run / LOCK_NAME).read_text().startswith("seqtk process ")
        with pytest.raises(SeqtkError, match="is being trained into right now by seqtk process"):
            with claim(run):  # a second claim (another open file description) is refused while the first holds
                pass
        (run / "config.toml").write_text("[task]\n")
    assert not (run / LOCK_NAME).exists() and (run / "config.toml").exists()
    with claim(tmp_path / "empty"):
        pass
    assert not (tmp_path / "empty").exists()  # a run that wrote nothing leaves no folder behind
