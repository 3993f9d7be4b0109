"""The ``tag`` task: one tag per token (part of speech, named entities, chunks).

Sentences come from :mod:`.corpus` (the Brown corpus by default; CoNLL-U,
CoNLL-2003 columns, ``word/TAG`` lines or JSONL files, read by
:mod:`.readers`) and are split by file or by sentence (:mod:`.splits`). What
the task learns from the training split is its word and character
vocabularies, its tag list and the chunk scheme. The model (:mod:`.model`) is
a word embedding plus character features, a bidirectional recurrent stack and
a linear head per token, optionally with a CRF. Evaluation counts token
accuracy over the whole split, and for BIO/BIOES/IOB1 tags the span
precision, recall and F1 that conlleval reports (:mod:`.metrics`,
:mod:`.spans`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seqtk.data.batches import ResumableLoader, move_to
from seqtk.data.split_record import check_same_split
from seqtk.errors import SeqtkError
from seqtk.runtime.device import eval_mode
from seqtk.tasks.task import EVAL_FILE, ExportSpec, StepOutput, Task
from seqtk_plugins.tag.batching import Batch, Encoded, SentenceEncoder, TrainBatches, eval_batches
from seqtk_plugins.tag.config import TagData, TagModel, TagVocab
from seqtk_plugins.tag.inputs import EXAMPLE, TAKES, token_items, words_of
from seqtk_plugins.tag.metrics import TagCounts

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from seqtk.config.schema import Recipe
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.tag.readers import Sentence
    from seqtk_plugins.tag.splits import Splits

HELD_OUT = ("val", "test")


class TagTask(Task):
    """Sequence labelling: a tag for every token."""

    name = "tag"
    description = "One tag per token (POS, NER, chunks): the Brown corpus, or CoNLL-U, CoNLL columns, word/TAG, JSONL"
    data_config = TagData
    vocab_config = TagVocab
    model_config = TagModel
    learned = ("vocab", "char_vocab", "tags", "scheme")  # built by learn(), or restored from a checkpoint
    main_metric = "token_accuracy"
    main_metric_mode = "max"
    unit = "tokens"
    predict_takes = TAKES  # from Python, a sentence may also be its list of tokens (.inputs)
    predict_example = EXAMPLE

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.vocab: Vocab | None = None
        self.char_vocab: Vocab | None = None
        self.tags: list[str] | None = None
        self.scheme: str | None = None  # none, bio, bioes or iob1
        self.sentences: dict[str, list[Sentence]] = {}  # split -> sentences as read
        self.encoded: dict[str, Encoded] = {}
        self.split_record: dict[str, Any] | None = None
        self._splits: Splits | None = None
        self._source = ""
        self._restored_split: dict[str, Any] | None = None
        self._eval_cache: dict[str, list[Batch]] = {}

    # -- checks and data ----------------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.tag.checks import check_data, check_model, check_vocab

        check_data(recipe.data)
        check_vocab(recipe.vocab)
        check_model(recipe.model)

    def load_data(self) -> None:
        from seqtk_plugins.tag.corpus import load_splits

        self._splits, self._source = load_splits(self.recipe.data, self.report_console())
        self.sentences = {name: self._splits[name] for name in ("train", *HELD_OUT)}
        self.split_record = self._splits.record()
        check_same_split(self._restored_split, self.split_record)

    def learn(self) -> dict[str, Any]:
        """The word and character vocabularies, the tags and the chunk scheme of the training split."""
        from seqtk.text.vocab import PAD, Vocab
        from seqtk_plugins.tag.corpus import tag_set
        from seqtk_plugins.tag.spans import resolve_scheme

        v: TagVocab = self.recipe.vocab
        train = self.sentences["train"]
        words = [[w.lower() for w in s.words] if v.lowercase else list(s.words) for s in train]
        tags = tag_set(train)
        return {
            "vocab": Vocab.build(words, min_freq=v.min_freq, max_size=v.max_size or None, specials=(PAD,),
                                 num_oov_buckets=v.num_oov_buckets),
            "char_vocab": Vocab.build((w for s in train for w in s.words), min_freq=v.char_min_freq, specials=(PAD,),
                                      num_oov_buckets=1),
            "tags": tags,
            "scheme": resolve_scheme(self.recipe.data.scheme, tags),
        }  # fmt: skip

    def encode_data(self) -> None:
        from seqtk_plugins.tag.report import describe

        encoder = self.encoder
        self.encoded = {name: encoder.encode_all(part) for name, part in self.sentences.items()}
        self._eval_cache.clear()
        assert self._splits is not None
        describe(self._splits, self._source, encoder, self.need("scheme"), self.report_console())

    def read_eval_file(self, path: Path) -> None:
        """``seqtk eval --file``: tagged sentences in the formats data.path reads (CoNLL-U, CoNLL columns,
        word/TAG lines, JSONL; data.format and its keys as the recipe sets them) as the split "file". A tag the
        model does not know counts as an error, as in a split; a file with none it knows is refused."""
        from seqtk_plugins.tag.corpus import read_options, tag_set
        from seqtk_plugins.tag.readers import read_file

        sentences = read_file(path, read_options(self.recipe.data))
        _check_known_tags(path, tag_set(sentences), self.need("tags"))
        self.sentences[EVAL_FILE] = sentences
        self.encoded[EVAL_FILE] = self.encoder.encode_all(sentences)
        self._eval_cache.pop(EVAL_FILE, None)

    def train_loader(self) -> ResumableLoader:
        train = self.recipe.train
        batches = TrainBatches(self.encoded["train"], train.batch_size, train.seed, self.recipe.data.bucket_factor)
        return ResumableLoader(batches.plan, batches.collate)

    def eval_batches(self, split: str) -> list[Batch]:
        if split not in (*HELD_OUT, EVAL_FILE) or split not in self.encoded:
            raise SeqtkError(f"task 'tag' has no prepared split '{split}'", fix="use val or test (after prepare())")
        if split not in self._eval_cache:
            self._eval_cache[split] = eval_batches(self.encoded[split], self.recipe.data.eval_batch_size)
        return self._eval_cache[split]

    # -- model ----------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        from seqtk_plugins.tag.model import Tagger

        return Tagger(self.need("vocab"), self.need("char_vocab"), len(self.need("tags")), self.recipe.model)

    def step(self, model: nn.Module, batch: Batch, *, train: bool) -> StepOutput:
        """Mean loss per token; at evaluation also the predicted tags, for the reducer."""
        emissions, loss = model(batch.words, batch.chars, batch.lengths, batch.tags)  # (B, T, K), ()
        tokens = int(batch.lengths.sum())
        tagger = getattr(model, "module", model)  # DistributedDataParallel wraps the tagger in training
        if train:
            if tagger.crf is not None:  # Viterbi would cost a second pass; evaluation reports accuracy
                return StepOutput(loss=loss, count=tokens)
            known = batch.tags != -100
            accuracy = ((emissions.argmax(-1) == batch.tags) & known).sum() / known.sum().clamp(min=1)
            return StepOutput(loss=loss, count=tokens, metrics={"token_accuracy": float(accuracy)})
        predicted, _ = tagger.decode(emissions, batch.lengths)  # (B, T)
        return StepOutput(loss=loss, count=tokens, outputs={"tags": predicted})

    def eval_reducer(self, split: str) -> TagCounts:
        """Token accuracy and span scores are counted over the whole split, against the tags as read."""
        return TagCounts(self.sentences[split], self.need("tags"), self.need("scheme"))

    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """The validation confusion matrix of the 20 most frequent tags (the rest as "(other)") as an image."""
        if result is None or result.split != "val" or not isinstance(result.details, TagCounts):
            return
        from seqtk.runtime.plots import heatmap, image_tensor

        names, matrix = result.details.confusion_matrix(top=20)
        counts = torch.tensor(matrix, dtype=torch.float)
        shares = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)  # of each gold tag's tokens
        labels = [[f"{v:,}" for v in row] for row in matrix]
        title = f"validation, step {step}: token accuracy {result.details.metrics()['token_accuracy']:.2%} (rows gold, columns predicted)"
        logger.log_image("val/confusion_matrix", image_tensor(heatmap(shares, names, names, labels=labels, title=title)), step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        if result is None or result.split != "val" or not isinstance(result.details, TagCounts):
            return None
        return f"The most frequent validation errors (gold -> predicted, count):\n{result.details.top_confusions()}"

    def eval_details(self, result: EvalResult) -> dict[str, Any]:
        """Per-tag precision/recall/F1/support and the most frequent errors, for ``seqtk eval --json``."""
        if not isinstance(result.details, TagCounts):
            return {}
        errors = [[gold, pred, n] for (gold, pred), n in result.details.confusions.most_common(20)]
        return {"per_tag": result.details.per_tag(), "top_confusions_gold_predicted_count": errors}

    def eval_text(self, result: EvalResult) -> str | None:
        """The 20 most frequent tags' scores and the 10 most frequent errors, under ``seqtk eval``'s metrics."""
        if not isinstance(result.details, TagCounts):
            return None
        rows = list(result.details.per_tag().items())[:20]
        lines = [f"{'tag':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
        lines += [f"{tag:<12}{r['precision']:>10.3f}{r['recall']:>10.3f}{r['f1']:>10.3f}{r['support']:>10,}" for tag, r in rows]
        more = len(result.details.per_tag()) - len(rows)
        tail = f"\n(and {more} rarer tags: seqtk eval --json lists them all)" if more > 0 else ""
        return ("\n".join(lines) + tail + "\n\nThe most frequent errors (gold -> predicted, count):\n"
                + result.details.top_confusions())

    # -- checkpoint state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The split's record (the vocabularies and tags are Task.learned: seqtk saves those)."""
        return {"split": self.split_record}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._restored_split = state.get("split")

    # -- inference ------------------------------------------------------------------------------
    def predict_inputs(self, value: Any) -> list[Any] | None:
        """A token list (a list of strings) as one sentence, tagged without the tokenizer (:mod:`.inputs`)."""
        return token_items(value)

    def predict(self, model: nn.Module, inputs: list[Any], device: torch.device) -> list[dict[str, Any]]:
        """Each text is split at whitespace into tokens (a token list is used as it is); each token gets a tag."""
        sentences = [words_of(item) for item in inputs]
        for n, words in enumerate(sentences, start=1):
            if not words:
                raise SeqtkError(
                    f"input {n} of {len(inputs)} is empty; there is nothing to tag",
                    fix="pass a sentence with its tokens separated by spaces, "
                    'e.g. seqtk predict CKPT "The old man the boats ."',
                )
        encoded = self.encoder.encode_all([(words, None) for words in sentences])
        tags = self.need("tags")
        out: list[dict[str, Any]] = [{} for _ in sentences]
        with eval_mode(model), torch.no_grad():
            for batch in eval_batches(encoded, self.recipe.data.eval_batch_size):
                b = move_to(batch, device)
                emissions, _ = model(b.words, b.chars, b.lengths)  # (B, T, K)
                predicted, _ = model.decode(emissions, b.lengths)
                for row, i in zip(predicted.tolist(), batch.index.tolist()):
                    words = sentences[i]
                    names = [tags[t] for t in row[: len(words)]]
                    tagged = " ".join(f"{w}/{t}" for w, t in zip(words, names))
                    out[i] = {"tagged": tagged, "tokens": words, "tags": names}
        return out

    def export_spec(self, model: nn.Module) -> ExportSpec:
        """The emission model (word and character ids and lengths in, tag scores out); vocab.json, labels.json and,
        with a CRF, crf.json for the README's Viterbi."""
        from seqtk_plugins.tag.export import export_spec

        return export_spec(self, model)

    @property
    def encoder(self) -> SentenceEncoder:
        v: TagVocab = self.recipe.vocab
        return SentenceEncoder(self.need("vocab"), self.need("char_vocab"), self.need("tags"), v.lowercase,
                               self.recipe.model.max_word_chars)  # fmt: skip


def _check_known_tags(path: Path, found: list[str], known: list[str]) -> None:
    """Refuse a file none of whose tags the model knows: another tagset, or the wrong column."""
    if set(found) & set(known):
        return
    raise SeqtkError(
        f"none of the tags of '{path}' ({', '.join(found[:8])}{' ...' if len(found) > 8 else ''}) is one the model "
        f"was trained on ({', '.join(known[:8])}{' ...' if len(known) > 8 else ''}), so every token would count as "
        "wrong",
        fix="score a file tagged with the model's tagset; in a column file, check which column holds the tags "
        "(the recipe's data.tag_column, data.conllu_tag for CoNLL-U)",
    )
