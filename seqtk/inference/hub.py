"""Sharing a trained model through the Hugging Face Hub: ``seqtk push`` and ``seqtk.load("hf://user/name")``.

A model repository holds three files: ``model.pt`` (the checkpoint without its
optimiser, RNG and data-loader state, which only resuming needs), ``recipe.toml``
(the resolved recipe) and ``README.md`` (a model card whose front matter the Hub
reads: ``library_name: seqtk``, tags, the task and the datasets). Pulling goes
through ``huggingface_hub.snapshot_download`` into the Hugging Face cache, then the
checkpoint loads as a local file does. The upload goes through an ``HfApi``-like
object (``create_repo``, ``upload_folder``), which tests replace by a local folder.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtk.errors import SeqtkError

PREFIX = "hf://"
MODEL_FILE, RECIPE_FILE, CARD_FILE = "model.pt", "recipe.toml", "README.md"
FILES = (MODEL_FILE, RECIPE_FILE, CARD_FILE)
# Only resuming a run reads these; a shared model leaves them out (the Adam state alone is twice the weights).
_TRAINING_ONLY = ("optimizer", "scheduler", "scaler", "rng", "rng_ranks", "data")
_LOCAL = 'load a local checkpoint instead: seqtk.load("runs/<recipe>/<time>/checkpoints/best.pt")'
_LATER = "write the folder now with `seqtk push --dry-run CKPT user/name --out DIR` and push it when online"


@dataclass(frozen=True)
class HubId:
    """``hf://user/name@revision`` split into the repo id and the revision (None: the default branch)."""

    repo_id: str
    revision: str | None = None

    @classmethod
    def parse(cls, text: str) -> HubId:
        """
        >>> HubId.parse("hf://ana/bbc-gru@v1")
        HubId(repo_id='ana/bbc-gru', revision='v1')
        """
        body = text[len(PREFIX):] if text.startswith(PREFIX) else text
        repo_id, _, revision = body.partition("@")
        check_repo_id(repo_id)
        return cls(repo_id, revision or None)


def check_repo_id(repo_id: str) -> None:
    """Refuse a repo id the Hub would refuse, before any file is written or sent."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        if repo_id.count("/") != 1:
            raise HFValidationError("it must be one user or organisation and one name")
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise SeqtkError(f"'{repo_id}' is not a Hugging Face model id: {str(exc).splitlines()[0]}",
                         fix="write it as user/name, e.g. ana/bbc-gru (letters, digits, '-', '_', '.')") from exc


# ---------------------------------------------------------------------------
# The folder that is uploaded
# ---------------------------------------------------------------------------


def write_folder(checkpoint: str | Path, repo_id: str, out: str | Path) -> list[Path]:
    """Write the card, the model and the recipe that ``seqtk push`` uploads into ``out``; returns the files."""
    from seqtk.config.recipe_io import to_toml
    from seqtk.inference.checkpoint import save_checkpoint
    from seqtk.inference.loading import load_for_inference

    check_repo_id(repo_id)
    loaded = load_for_inference(checkpoint, device="cpu")  # refuses a foreign or broken checkpoint here
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {k: v for k, v in loaded.payload.items() if k not in _TRAINING_ONLY}
    save_checkpoint(out / MODEL_FILE, payload)
    header = f"# seqtk run recipe.toml    (the recipe '{loaded.recipe.name}' that trained {repo_id})"
    (out / RECIPE_FILE).write_text(to_toml(loaded.recipe.to_dict(), header=header), encoding="utf-8")
    (out / CARD_FILE).write_text(model_card(repo_id, loaded.recipe.name, payload), encoding="utf-8")
    return [out / name for name in (CARD_FILE, MODEL_FILE, RECIPE_FILE)]


def model_card(repo_id: str, recipe_name: str, payload: dict[str, Any]) -> str:
    """A README.md with the front matter the Hub reads, the measured metrics and how to load the model."""
    recipe, task, step = payload["recipe"], payload["task"], payload.get("step")
    tags = ["seqtk", task, *sorted(_cells(recipe.get("model", {})))]
    datasets = _datasets(recipe.get("data", {}))
    front = ["---", "library_name: seqtk", "tags:", *[f"- {t}" for t in dict.fromkeys(tags)]]
    front += ["datasets:", *[f"- {d}" for d in datasets]] if datasets else []
    metrics = {k: v for k, v in (payload.get("metrics") or {}).items() if isinstance(v, (int, float))}
    rows = [f"| {k} | {v:.4g} |" for k, v in metrics.items()] or ["| (none recorded) | |"]
    source = recipe.get("data", {}).get("source") or recipe.get("data", {}).get("path") or "the task's default"
    return "\n".join([
        *front, "---", "", f"# {repo_id}", "",
        f"A seqtk `{task}` model, trained with the recipe `{recipe_name}` for {step} steps on {source} data.", "",
        f"## Evaluation (step {step})", "", "| metric | value |", "| --- | --- |", *rows, "",
        "## Use", "", "```python", "import seqtk", "", f'p = seqtk.load("hf://{repo_id}")',
        "p.predict([...])   # or p.generate(...) for a language model; p.evaluate('test') reads the recipe's data",
        "```", "", f"`{RECIPE_FILE}` is the recipe it was trained with: `seqtk run recipe.toml` trains it again.", "",
    ])


def _cells(model: dict[str, Any]) -> set[str]:
    """The recurrent cells a model section names (``cell``, or ``cell`` in each of ``layers``)."""
    found = {model["cell"]} if isinstance(model.get("cell"), str) else set()
    return found | {layer["cell"] for layer in model.get("layers") or [] if isinstance(layer, dict) and "cell" in layer}


def _datasets(data: dict[str, Any]) -> list[str]:
    """The Hub datasets the data came from, when the recipe names one."""
    name = data.get("hub_name")
    return [name] if isinstance(name, str) and name and data.get("source") in ("hub", None) else []


# ---------------------------------------------------------------------------
# Push and pull
# ---------------------------------------------------------------------------


def push(checkpoint: str | Path, repo_id: str, *, private: bool = False, api: Any = None) -> str:
    """Upload the checkpoint, its recipe and card to ``repo_id`` (created if new); returns the repo's URL.

    ``api``: an ``huggingface_hub.HfApi`` (the default) or an object with its ``create_repo``,
    ``upload_folder`` and ``token``."""
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.constants import is_offline_mode
    from huggingface_hub.errors import HfHubHTTPError

    check_repo_id(repo_id)
    if api is None:
        if is_offline_mode():
            raise SeqtkError("HF_HUB_OFFLINE=1 is set, so seqtk push cannot reach the Hugging Face Hub",
                             fix=f"unset HF_HUB_OFFLINE when online, or {_LATER}")
        api = HfApi()
    if not (getattr(api, "token", None) or get_token()):
        raise SeqtkError("there is no Hugging Face token to push with",
                         fix=f"log in with `hf auth login` (or set HF_TOKEN), or {_LATER}")
    with tempfile.TemporaryDirectory(prefix="seqtk-push-") as tmp:
        write_folder(checkpoint, repo_id, tmp)
        try:
            url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
            api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=tmp,
                              commit_message=f"seqtk push {Path(checkpoint).name}")
        except HfHubHTTPError as exc:
            if getattr(exc.response, "status_code", None) in (401, 403):
                raise SeqtkError(f"the Hub refused to let this token write to '{repo_id}'",
                                 fix="log in with `hf auth login` using a token with write access to that user or organisation") from exc
            raise SeqtkError(f"the Hub refused the push to '{repo_id}': {str(exc).splitlines()[0]}", fix=f"retry later, or {_LATER}") from exc
        except Exception as exc:
            if _unreachable(exc):
                raise SeqtkError(f"the Hugging Face Hub cannot be reached ({exc})", fix=f"check the connection, or {_LATER}") from exc
            raise
    return str(url)


def download(hub_id: str) -> Path:
    """The local path of ``hf://user/name[@revision]``'s checkpoint, downloaded into the Hugging Face cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    hub = HubId.parse(hub_id)
    try:
        folder = Path(snapshot_download(hub.repo_id, revision=hub.revision, allow_patterns=list(FILES)))
    except LocalEntryNotFoundError as exc:
        raise SeqtkError(f"cannot download '{hub_id}': the Hub cannot be reached (offline, or HF_HUB_OFFLINE=1) and "
                         "the Hugging Face cache has no copy of it", fix=f"connect and retry, or {_LOCAL}") from exc
    except RevisionNotFoundError as exc:
        raise SeqtkError(f"'{hub.repo_id}' has no revision '{hub.revision}'",
                         fix=f"use a branch, tag or commit of it, or drop '@{hub.revision}' for the latest") from exc
    except RepositoryNotFoundError as exc:
        raise SeqtkError(f"there is no model '{hub.repo_id}' on the Hub (or it is private and you are not logged in)",
                         fix="check the name; for a private model log in with `hf auth login`") from exc
    except HfHubHTTPError as exc:
        raise SeqtkError(f"the Hub could not serve '{hub_id}': {str(exc).splitlines()[0]}", fix=f"retry later, or {_LOCAL}") from exc
    if not (folder / MODEL_FILE).is_file():
        raise SeqtkError(f"'{hub.repo_id}' has no {MODEL_FILE}, so it is not a model pushed by seqtk",
                         fix="load a repository written by `seqtk push`")
    return folder / MODEL_FILE


def _unreachable(exc: Exception) -> bool:
    """A connection that failed or timed out; huggingface_hub raises its HTTP client's transport errors as they are."""
    return isinstance(exc, (ConnectionError, TimeoutError)) or any(c.__name__ == "TransportError" for c in type(exc).__mro__)
