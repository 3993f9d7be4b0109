"""The ``music`` task: a character (or ABC-token) LM over normalised folk tunes in ABC.

It reads tunes (:mod:`.corpus`), builds the vocabulary from the training
tunes with tune start/end tokens (``<bos>``, ``<eos>``) and one OOV bucket,
trains :class:`seqtk.nn.lm.CharLM` on random windows of the tune stream
(:mod:`seqtk.data.lm_batches`), reports loss in nats/token and, at every
evaluation, samples tunes and checks them with music21 (:mod:`.validate`):
``parse_rate`` and ``bar_fill_rate`` join the validation metrics
(:meth:`MusicTask.model_metrics`, the core's hook for metrics of the model itself).
``seqtk generate`` samples tunes, optionally in a given key and metre, and
writes .abc, .mid, .musicxml and .wav files (:mod:`.export`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seqtk.data.batches import ResumableLoader, check_fills_a_batch
from seqtk.data.lm_batches import WindowBatches, eval_windows
from seqtk.errors import SeqtkError
from seqtk.nn.awd import add_activation_penalty
from seqtk.tasks.task import ExportSpec, GenerateRequest, StepOutput, Task
from seqtk_plugins.music.config import MusicData, MusicModel, MusicVocab

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.config.schema import Recipe
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.music.corpus import Tune
    from seqtk_plugins.music.sampling import Sampled, TuneSampler

LN2 = math.log(2.0)
FINAL_TUNES = 100  # tunes sampled for the final report's rates
LOGGED_TUNES = 3  # tunes logged as text at each evaluation


class MusicTask(Task):
    """Folk-tune generation in ABC notation (folk-rnn), checked with music21."""

    name = "music"
    description = "Folk tunes in ABC notation (folk-rnn): music21's collections or any .abc/.mid files; writes .abc/.mid"
    data_config = MusicData
    vocab_config = MusicVocab
    model_config = MusicModel
    learned = ("vocab", "headers")  # built by learn(), or restored from a checkpoint
    main_metric = "loss"
    main_metric_mode = "min"
    unit = "tokens"
    generate_length = 1000  # a tune ends at its end token; this only caps runaway ones
    generate_options = frozenset({"out", "key", "meter", "wav", "musicxml"})

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.vocab: Vocab | None = None
        self.codec_kind: str = recipe.vocab.tokens
        self.tunes: dict[str, list[Tune]] = {}  # split -> tunes
        self.ids: dict[str, torch.Tensor] = {}  # split -> (N,) ids: <bos> tune <eos> <bos> tune <eos> ...
        self.headers: dict[str, list[str]] | None = None  # M/K -> values seen in training, most common first
        self._found: Any = None  # corpus.Found and corpus.Splits: read by load_data() for encode_data()
        self._splits: Any = None

    # -- checks and data --------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.music.checks import check_data

        check_data(recipe.data)

    def load_data(self) -> None:
        """Read, normalise and split the tunes (and transpose them, if asked)."""
        from seqtk_plugins.music import corpus
        from seqtk_plugins.music.transpose import transpose_tunes

        cfg: MusicData = self.recipe.data
        self._found = corpus.load_tunes(cfg)
        self._splits = corpus.split_tunes_by_title(self._found.tunes, cfg.val_fraction, cfg.test_fraction)
        self.tunes = {name: getattr(self._splits, name) for name in ("train", "val", "test")}
        if cfg.transpose != "none":
            self.tunes = {name: transpose_tunes(tunes, cfg.transpose, cfg.augment_semitones if name == "train" else [])
                          for name, tunes in self.tunes.items()}  # fmt: skip

    def learn(self) -> dict[str, Any]:
        """The token vocabulary of the training tunes, and the metres and keys they use."""
        from seqtk.text.vocab import BOS, EOS, PAD, Vocab

        tokens = [self._codec().tokens(t.text) for t in self.tunes["train"]]
        vocab = Vocab.build(tokens, min_freq=self.recipe.vocab.min_freq, specials=(PAD, BOS, EOS), num_oov_buckets=1)
        return {"vocab": vocab, "headers": _header_values(self.tunes["train"])}

    def encode_data(self) -> None:
        from seqtk_plugins.music import corpus

        self._encode_splits()
        n, cfg, vocab = len(self.ids["train"]), self.recipe.data, self.need("vocab")
        check_fills_a_batch(n, f"the training tunes have {n:,} tokens", self.recipe.train.batch_size, cfg.seq_len, "tunes")
        console = self.report_console()
        corpus.describe(self._found, self._splits, console, self.tunes)
        console.print(f"vocabulary: {len(vocab)} ids ({vocab.num_known - 3} {self._codec().name} tokens, "
                      f"<pad>, <bos>, <eos>, 1 OOV bucket)", highlight=False)  # fmt: skip

    def _encode_splits(self) -> None:
        self.ids = {name: self.encode_tunes([t.text for t in tunes]) for name, tunes in self.tunes.items()}

    def encode_tunes(self, texts: list[str]) -> torch.Tensor:
        """Normalised tunes -> one (N,) LongTensor: ``<bos> tune <eos>`` for each, back to back."""
        vocab, codec = self.need("vocab"), self._codec()
        ids: list[int] = []
        for text in texts:
            ids += [vocab.bos_id, *vocab.encode(codec.tokens(text)), vocab.eos_id]  # type: ignore[list-item]
        return torch.tensor(ids, dtype=torch.long)

    def splits(self) -> list[str]:
        return ["val", "test"] if self.recipe.data.test_fraction > 0 else ["val"]

    def read_eval_file(self, path: Path) -> None:
        """``seqtk eval --file``: the tunes of an ABC or MIDI file, normalised as data.path's are (every one, however
        long; transposed as held-out tunes are), as the split "file": scored per token as val is, without sampling."""
        from dataclasses import replace

        from seqtk.tasks.task import EVAL_FILE
        from seqtk_plugins.music.corpus import load_tunes
        from seqtk_plugins.music.transpose import transpose_tunes

        cfg: MusicData = self.recipe.data
        tunes = load_tunes(replace(cfg, path=str(path), max_tune_chars=0)).tunes
        if cfg.transpose != "none":
            tunes = transpose_tunes(tunes, cfg.transpose, [])
        self.ids[EVAL_FILE] = self.encode_tunes([t.text for t in tunes])

    def train_loader(self) -> ResumableLoader:
        batches = WindowBatches(self.ids["train"], self.recipe.train.batch_size, self.recipe.data.seq_len, self.recipe.train.seed)
        return ResumableLoader(batches.plan, batches.collate)

    def eval_batches(self, split: str) -> Iterable[Any]:
        if split not in self.ids or split == "train":
            raise SeqtkError(f"task 'music' has no split '{split}'", fix=f"use one of {', '.join(self.splits())}")
        return eval_windows(self.ids[split], self.recipe.train.batch_size, self.recipe.data.seq_len)

    # -- model --------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        m: MusicModel = self.recipe.model
        return m.build(len(self.need("vocab")))

    def step(self, model: nn.Module, batch: Any, *, train: bool) -> StepOutput:
        """Mean cross-entropy over the ``(B, T)`` next-token targets of one batch."""
        x, y = batch  # (B, T) each
        _, loss, _ = model(x, targets=y)  # logits (B, T, V), loss ()
        if train:  # model.ar_alpha / tar_beta: AWD-LSTM's AR and TAR terms join the training loss
            loss = add_activation_penalty(model, loss)
        return StepOutput(loss=loss, count=y.numel())

    def model_metrics(self, model: nn.Module, split: str, device: torch.device, result: EvalResult) -> dict[str, float]:
        """``parse_rate``, ``bar_fill_rate`` and ``finished_rate`` of ``data.sample_tunes`` tunes sampled at each
        evaluation (the loss alone cannot say whether the tunes are music); the tunes go to log_eval."""
        n = self.recipe.data.sample_tunes
        if not n:
            return {}
        tunes = self.sample(model, device, n, seed=self.recipe.train.seed)  # a generator of its own
        result.extras["tunes"] = tunes
        return self.rates(tunes)

    def finish_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        return {**metrics, "bits_per_token": metrics["loss"] / LN2}

    # -- sampling and checking --------------------------------------------------------
    def sample(self, model: nn.Module, device: torch.device, n: int, seed: int, **options: Any) -> list[Sampled]:
        """``n`` tunes at the recipe's sample temperature unless ``options`` say otherwise."""
        from seqtk_plugins.music.sampling import SamplingOptions

        headers, prompt = options.pop("headers", None), options.pop("prompt", "")
        settings = {"max_tokens": self.recipe.data.max_tune_tokens, "temperature": self.recipe.data.sample_temperature,
                    "seed": seed, **options}  # fmt: skip
        return self._sampler(model, device).sample(n, SamplingOptions(**settings), headers=headers, prompt=prompt)

    def rates(self, tunes: list[Sampled]) -> dict[str, float]:
        """parse_rate and bar_fill_rate (music21), and finished_rate (tunes that reached their end token)."""
        from seqtk_plugins.music.validate import check_tune, summarise

        rates = summarise(check_tune(t.text) for t in tunes)
        return {**rates, "finished_rate": sum(t.finished for t in tunes) / len(tunes) if tunes else float("nan")}

    def _sampler(self, model: nn.Module, device: torch.device) -> TuneSampler:
        from seqtk_plugins.music.sampling import TuneSampler

        return TuneSampler(model, self.need("vocab"), self._codec(), device, known=self.headers or {})

    # -- reporting ------------------------------------------------------------------
    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """Log the first tunes this evaluation sampled (model_metrics) as text."""
        tunes: list[Sampled] = result.extras.get("tunes", []) if result is not None else []
        if tunes:
            logger.log_text("samples/tunes", "\n\n".join(t.text for t in tunes[:LOGGED_TUNES]), step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        """The rates of FINAL_TUNES tunes, more than an evaluation samples, and the first of them."""
        cfg: MusicData = self.recipe.data
        tunes = self.sample(model, device, FINAL_TUNES, seed=self.recipe.train.seed)
        r = self.rates(tunes)
        return (f"{FINAL_TUNES} sampled tunes (temperature {cfg.sample_temperature}, seed {self.recipe.train.seed}): "
                f"parse rate {r['parse_rate']:.3f}, bar-fill rate {r['bar_fill_rate']:.3f}, "
                f"finished {r['finished_rate']:.3f}. The first:\n{tunes[0].text}")  # fmt: skip

    # -- checkpoint state -----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The token kind (the vocabulary and header values are Task.learned: seqtk saves those)."""
        return {"tokens": self.codec_kind}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "vocab" in state:  # a checkpoint from before seqtk saved Task.learned itself
            from seqtk.text.vocab import Vocab

            self.vocab = Vocab.from_dict(state["vocab"], source="the checkpoint's music vocabulary")
            self.headers = {k: list(v) for k, v in state.get("headers", {}).items()}
        self.codec_kind = state.get("tokens", self.codec_kind)

    # -- inference ------------------------------------------------------------------
    def generate(self, model: nn.Module, request: GenerateRequest, device: torch.device) -> list[str]:
        """``request.n`` tunes; with ``extra["out"]`` also files. Fills ``request.report`` with the rates.

        ``extra`` may hold ``key`` and ``meter`` (conditions), ``out`` (a folder),
        ``musicxml`` and ``wav`` (more files).
        """
        from seqtk_plugins.music.export import audio_tools, next_tune_number, write_tune
        from seqtk_plugins.music.validate import check_tune, summarise

        extra = request.extra
        headers = self._conditions(extra.get("key"), extra.get("meter"), request.prompt)
        audio = audio_tools() if extra.get("wav") else None  # fail before sampling when fluidsynth is missing
        if audio is not None and not extra.get("out"):
            raise SeqtkError("--wav writes files, but no --out folder was given", fix="add --out FOLDER")
        tunes = self.sample(model, device, request.n, request.seed, headers=headers, prompt=request.prompt,
                            max_tokens=request.length, temperature=request.temperature, top_k=request.top_k,
                            top_p=request.top_p)  # fmt: skip
        checks = [check_tune(t.text) for t in tunes]
        details = [{"abc": t.text, "finished": t.finished, **c.to_dict()} for t, c in zip(tunes, checks)]
        if extra.get("out"):
            first = next_tune_number(Path(extra["out"]))  # after earlier tunes in the folder: none is overwritten
            for i, detail in enumerate(details):
                detail["files"] = write_tune(tunes[i].text, Path(extra["out"]), first + i, musicxml=bool(extra.get("musicxml")), audio=audio)
            request.report["out"] = str(extra["out"])
        request.report |= {"tunes": details, **summarise(checks)}
        if request.on_text is not None:  # the CLI has shown the prompt already
            for i, tune in enumerate(tunes):
                request.on_text(i, tune.text[len(request.prompt):] if tune.text.startswith(request.prompt) else tune.text)
        return [t.text for t in tunes]

    def export_spec(self, model: nn.Module) -> ExportSpec:
        """One step of the tune model (a token and the state in, logits and the new state out), as textgen's."""
        from seqtk_plugins.music.step_export import export_spec

        return export_spec(self, model)

    def _conditions(self, key: str | None, meter: str | None, prompt: str) -> dict[str, str]:
        from seqtk_plugins.music.tunes import normalise_key, normalise_meter

        if prompt and (key or meter):
            raise SeqtkError("--prompt cannot be combined with --key or --meter", fix="put the K: and M: lines in the prompt, or drop it")
        headers = {}
        for letter, value, norm, option in (("K", key, normalise_key, "--key"), ("M", meter, normalise_meter, "--meter")):
            if value is None:
                continue
            known = (self.headers or {}).get(letter, [])
            spelled = norm(value)
            if spelled is None or (known and spelled not in known):
                raise SeqtkError(
                    f"{option} {value!r} is not a {'key' if letter == 'K' else 'metre'} of the training tunes",
                    fix=f"use one of: {', '.join(known[:20])}" if known else "check the spelling",
                )
            headers[letter] = spelled
        return headers

    # -- helpers ----------------------------------------------------------------------
    def _codec(self) -> Any:
        from seqtk_plugins.music.codec import make_codec

        return make_codec(self.codec_kind)


def _header_values(tunes: list[Tune]) -> dict[str, list[str]]:
    """The M:, L: and K: header values of the tunes, most common first."""
    counts: dict[str, Counter[str]] = {"M": Counter(), "L": Counter(), "K": Counter()}
    for tune in tunes:
        for line in tune.text.split("\n"):
            if line[:2] in ("M:", "L:", "K:"):
                counts[line[0]][line[2:]] += 1
            if line.startswith("K:"):
                break
    return {letter: [v for v, _ in c.most_common()] for letter, c in counts.items()}
