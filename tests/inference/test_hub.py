"""seqtk push and seqtk.load("hf://..."), with a local folder in place of the Hub and the network unreachable.

The upload is replaced by :class:`FolderHub`, which lays the uploaded files out as the Hugging Face cache
does; the download is huggingface_hub's own ``snapshot_download``, run offline, reading that cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from seqtk.cli.main import main
from seqtk.config.recipe_io import read_toml
from seqtk.errors import SeqtkError
from seqtk.inference.hub import push, write_folder
import seqtk

hub_constants = pytest.importorskip("huggingface_hub.constants")
CLOSED = "http://127.0.0.1:9"  # nothing listens there: a request fails at once instead of reaching the Hub


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, tmp_path):
    """Offline, with an empty cache and no token, so that no test can reach the real Hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", CLOSED)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)  # read when huggingface_hub was imported
    monkeypatch.setattr(hub_constants, "ENDPOINT", CLOSED)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(hub_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


class FolderHub:
    """``HfApi``'s create_repo and upload_folder, writing into the cache layout snapshot_download reads."""

    token = "hf_fake"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def create_repo(self, repo_id, repo_type="model", private=False, exist_ok=False):
        self.calls.append(("create_repo", repo_id, repo_type, private))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, repo_id, folder_path, repo_type="model", commit_message=""):
        self.calls.append(("upload_folder", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))
        storage = Path(hub_constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
        commit = f"{len(self.calls):040x}"
        shutil.copytree(folder_path, storage / "snapshots" / commit)
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / "main").write_text(commit)
        return commit


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clf")
    rows = [f"{w} {x},{label}" for i in range(60) for label, w, x in [("time", "clock", i), ("rain", "umbrella", i)]]
    (folder / "q.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    recipe = folder / "clf.toml"
    recipe.write_text(f'[task]\nname = "classify"\n[data]\npath = "{folder / "q.csv"}"\n[train]\nmax_steps = 20\n'
                      'eval_every = 10\nbatch_size = 16\ndevice = "cpu"\n[log]\nprogress = false\n', encoding="utf-8")
    assert main(["run", str(recipe), "--out", str(folder / "run")]) == 0
    return folder / "run" / "checkpoints" / "last.pt"


def test_a_pushed_model_loads_from_hf_and_predicts_as_the_local_file(classifier):
    hub = FolderHub()
    assert push(classifier, "ana/clock-rain", api=hub) == "https://huggingface.co/ana/clock-rain"
    assert hub.calls[0] == ("create_repo", "ana/clock-rain", "model", False)
    assert hub.calls[1] == ("upload_folder", "ana/clock-rain", ["README.md", "model.pt", "recipe.toml"])
    shared = seqtk.load("hf://ana/clock-rain", device="cpu")
    local = seqtk.load(classifier, device="cpu")
    assert shared.predict(["clock 3", "umbrella 9"], top_k=2) == local.predict(["clock 3", "umbrella 9"], top_k=2)
    assert str(shared.source).startswith(hub_constants.HF_HUB_CACHE)
    commit = f"{2:040x}"
    assert seqtk.load(f"hf://ana/clock-rain@{commit}").task.name == "classify"


def test_dry_run_writes_the_card_the_model_and_the_recipe(classifier, tmp_path, capsys):
    out = tmp_path / "folder"
    assert main(["push", "--dry-run", str(classifier), "ana/clock-rain", "--out", str(out)]) == 0
    assert "README.md" in capsys.readouterr().out
    card = (out / "README.md").read_text(encoding="utf-8")
    front = card.split("---\n")[1]
    assert "library_name: seqtk" in front and "- classify" in front and "- gru" in front
    payload = torch.load(classifier, weights_only=True)
    assert f"| accuracy | {payload['metrics']['accuracy']:.4g} |" in card
    assert 'seqtk.load("hf://ana/clock-rain")' in card
    assert read_toml(out / "recipe.toml")["task"]["name"] == "classify"
    shared = torch.load(out / "model.pt", weights_only=True)
    assert "optimizer" not in shared and "rng" not in shared and shared["step"] == payload["step"]
    assert seqtk.load(out / "model.pt").predict("clock 1") == seqtk.load(classifier).predict("clock 1")


def test_a_hub_dataset_is_named_in_the_front_matter(classifier, tmp_path):
    from seqtk.inference.hub import model_card

    payload = torch.load(classifier, weights_only=True)
    payload["recipe"]["data"] |= {"source": "hub", "hub_name": "SetFit/bbc-news"}
    assert "datasets:\n- SetFit/bbc-news\n" in model_card("ana/x", "clf", payload)
    assert "datasets:" not in model_card("ana/x", "clf", torch.load(classifier, weights_only=True))


def test_loading_offline_without_a_cached_copy_names_the_local_alternative():
    with pytest.raises(SeqtkError, match=r"cannot be reached.*no copy.*seqtk.load\(\"runs/") as err:
        seqtk.load("hf://ana/never-pushed")
    assert "\n" not in err.value.message


def test_pushing_offline_or_without_a_token_names_the_way_out(classifier, monkeypatch, capsys):
    with pytest.raises(SeqtkError, match="HF_HUB_OFFLINE.*--dry-run"):
        push(classifier, "ana/clock-rain")
    assert main(["push", str(classifier), "ana/clock-rain"]) == 1
    assert "--dry-run" in capsys.readouterr().err
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(SeqtkError, match="no Hugging Face token.*hf auth login"):
        push(classifier, "ana/clock-rain")


def test_an_unreachable_hub_fails_fast_with_one_paragraph(classifier, monkeypatch):
    from huggingface_hub import HfApi

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(SeqtkError, match="cannot be reached.*--dry-run"):
        push(classifier, "ana/clock-rain", api=HfApi(endpoint=CLOSED, token="hf_fake"))


@pytest.mark.parametrize("bad", ["clock-rain", "ana/clock/rain", "ana/clock rain"])
def test_a_malformed_repo_id_is_refused_before_anything_is_written(classifier, tmp_path, bad):
    with pytest.raises(SeqtkError, match="not a Hugging Face model id.*user/name"):
        write_folder(classifier, bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(SeqtkError, match="not a Hugging Face model id"):
        seqtk.load(f"hf://{bad}")


def test_dry_run_needs_out(classifier, capsys):
    assert main(["push", "--dry-run", str(classifier), "ana/x"]) == 1
    assert "--out" in capsys.readouterr().err
