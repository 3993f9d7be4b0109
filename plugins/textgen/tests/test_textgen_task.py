"""The textgen task end to end on tiny texts made here (no network)."""

from __future__ import annotations

import io
import math

import pytest
import torch

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk.tasks.task import GenerateRequest
from seqtk_plugins.textgen.task import TextGenTask

PANGRAM = "the quick brown fox jumps over the lazy dog.\n"


def make_recipe(path, data=None, model=None, train=None, log=None):
    raw = {
        "task": {"name": "textgen"},
        "data": {"path": str(path), "seq_len": 16, "val_fraction": 0.1, "test_fraction": 0.1, **(data or {})},
        "model": {"cell": "lstm", "num_layers": 1, "hidden_size": 32, "embedding_dim": 16, "dropout": 0.0, **(model or {})},
        "train": {"batch_size": 4, "seed": 0, "device": "cpu", **(train or {})},
        "log": {"progress": False, "tensorboard": False, **(log or {})},
    }
    return resolve(raw, "textgen_test", TextGenTask)


def prepared(tmp_path, text=PANGRAM * 30, **sections):
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    task = TextGenTask(make_recipe(path, **sections))
    from rich.console import Console

    task.console = Console(file=io.StringIO())
    task.prepare()
    torch.manual_seed(0)
    return task, task.build_model()


# -- recipe checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "model", "message"),
    [
        ({}, {"tie_weights": True}, "tie_weights needs embedding_dim = the last layer.s hidden_size"),
        ({"works": ["hamlet"]}, {}, 'data.works is set but data.corpus is "tiny"'),
        ({"hf_dataset": "x"}, {}, "data.path and data.hf_dataset are both set"),
        ({"val_fraction": 0.0}, {}, "data.val_fraction"),
        ({"seq_len": 0}, {}, "data.seq_len must be at least 1"),
        ({}, {"num_layers": 0}, "model.num_layers must be at least 1"),
    ],
)
def test_validate_rejects_bad_recipes(tmp_path, data, model, message):
    with pytest.raises(SeqtkError, match=message):
        make_recipe(tmp_path / "t.txt", data=data, model=model)


def test_validate_unknown_work_suggests(tmp_path):
    with pytest.raises(SeqtkError, match="Did you mean 'macbeth'"):
        make_recipe(None, data={"path": None, "corpus": "works", "works": ["mcbeth"]})


# -- data ----------------------------------------------------------------------------


def test_prepare_builds_vocab_with_an_oov_bucket(tmp_path):
    task, model = prepared(tmp_path)
    vocab = task.vocab
    assert vocab.num_known == 1 + len(set(PANGRAM)) and vocab.num_oov_buckets == 1
    assert task.decode(task.encode("fox€")) == "fox\ufffd"  # an unseen char is the OOV bucket, not a crash
    assert model.vocab_size == len(vocab)


def test_eval_batches_cover_every_target_once(tmp_path):
    task, _ = prepared(tmp_path)
    batches = list(task.eval_batches("val"))
    assert sum(y.numel() for _, y in batches) == len(task.ids["val"]) - 1
    flat = torch.cat([y.reshape(-1) for _, y in batches])
    assert torch.equal(flat, task.ids["val"][1:])
    assert task.splits() == ["val", "test"]


def test_corpus_smaller_than_one_batch_is_refused(tmp_path):
    with pytest.raises(SeqtkError, match="fewer than one batch needs"):
        prepared(tmp_path, text=PANGRAM)  # 36 train chars < 4 x (16 + 1)


def test_window_loader_is_reproducible(tmp_path):
    task, _ = prepared(tmp_path)
    first = [x for x, _ in zip(task.train_loader(), range(3))]
    again = [x for x, _ in zip(task.train_loader(), range(3))]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again))
    x, y = first[0]
    assert x.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])


# -- truncated BPTT ------------------------------------------------------------------------


def test_stream_mode_carries_state_across_batches(tmp_path):
    task, model = prepared(tmp_path, data={"batching": "stream"})
    loader = iter(task.train_loader())
    (x1, y1), (x2, y2) = next(loader), next(loader)
    assert torch.equal(x2[:, 0], y1[:, -1])  # each row of batch 2 continues row b of batch 1
    assert task.step(model, (x1, y1), train=True).count == y1.numel()
    state1 = task.state_dict()["stream_state"]
    with torch.no_grad():
        _, expected, _ = model(x2, targets=y2, state=state1)  # batch 2 from batch 1's final state
        _, fresh, _ = model(x2, targets=y2)
    out2 = task.step(model, (x2, y2), train=True)
    assert torch.allclose(out2.loss, expected) and not torch.allclose(out2.loss, fresh)
    assert not any(t.requires_grad for t in _tensors(task._state))  # detached: the graph is cut
    task.reset_state()  # the trainer calls this at each epoch start
    assert "stream_state" not in task.state_dict()
    assert torch.allclose(task.step(model, (x2, y2), train=True).loss, fresh)


def test_stream_state_survives_a_checkpoint(tmp_path):
    task, model = prepared(tmp_path, data={"batching": "stream"})
    x, y = next(iter(task.train_loader()))
    task.step(model, (x, y), train=True)
    from seqtk.tasks import learned

    buffer = io.BytesIO()
    torch.save({"task_state": task.state_dict(), "learned": learned.save(task)}, buffer)  # as a checkpoint holds them
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    other = TextGenTask(task.recipe)
    learned.restore(other, saved["learned"])  # the vocabulary: Task.learned, saved by the core
    other.load_state_dict(saved["task_state"])
    assert other.vocab == task.vocab
    assert all(torch.equal(a, b) for a, b in zip(_tensors(other._state), _tensors(task._state)))


def test_windows_mode_never_carries_state(tmp_path):
    task, model = prepared(tmp_path)
    task.step(model, next(iter(task.train_loader())), train=True)
    assert "stream_state" not in task.state_dict()


def _tensors(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in _tensors(s)]


# -- metrics, generation and scoring ---------------------------------------------------------


def test_finish_metrics_adds_bits_per_char(tmp_path):
    task, _ = prepared(tmp_path)
    assert task.finish_metrics({"loss": math.log(2) * 1.5})["bits_per_char"] == pytest.approx(1.5)


def test_generation_is_reproducible_by_seed(tmp_path):
    task, model = prepared(tmp_path)
    streamed: dict[int, str] = {}
    request = GenerateRequest(prompt="the €", length=30, n=2, seed=7,
                              on_text=lambda i, t: streamed.__setitem__(i, streamed.get(i, "") + t))  # fmt: skip
    first = task.generate(model, request, torch.device("cpu"))
    again = task.generate(model, GenerateRequest(prompt="the €", length=30, n=2, seed=7), torch.device("cpu"))
    other = task.generate(model, GenerateRequest(prompt="the €", length=30, n=2, seed=8), torch.device("cpu"))
    assert first == again and first != other
    assert [len(s) for s in first] == [30, 30] and first[0] != first[1]  # sample i uses seed + i
    assert streamed == {0: first[0], 1: first[1]}


def test_greedy_decoding_reproduces_a_memorised_string(tmp_path):
    task, model = prepared(tmp_path, model={"hidden_size": 64}, train={"batch_size": 8})
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    batches = iter(task.train_loader())
    model.train()
    for _ in range(120):
        out = task.step(model, next(batches), train=True)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    request = GenerateRequest(prompt="the quick", length=len(PANGRAM), temperature=0.0)
    [text] = task.generate(model, request, torch.device("cpu"))
    assert text == " brown fox jumps over the lazy dog.\nthe quick"
    [score] = task.predict(model, [PANGRAM * 2], torch.device("cpu"))
    assert score["bits_per_char"] == pytest.approx(score["nats_per_char"] / math.log(2))
    assert score["nats_per_char"] < 0.2 and score["chars"] == 2 * len(PANGRAM)


def test_predict_handles_unseen_characters(tmp_path):
    task, model = prepared(tmp_path)
    [score] = task.predict(model, ["日本"], torch.device("cpu"))
    assert math.isfinite(score["nats_per_char"]) and score["chars"] == 2


def test_final_report_and_log_eval_leave_the_global_rng_alone(tmp_path):
    task, model = prepared(tmp_path)
    logged = []

    class Logger:
        def log_text(self, tag, text, step):
            logged.append((tag, text, step))

    before = torch.get_rng_state()
    task.log_eval(model, Logger(), 10)
    report = task.final_report(model, torch.device("cpu"))
    assert torch.equal(before, torch.get_rng_state())
    assert logged[0][0] == "samples/text" and logged[0][2] == 10
    assert report.startswith("Sample (300 characters") and task.prompt in report


# -- a whole run through the trainer --------------------------------------------------------------


def test_tiny_training_run_then_generate_from_checkpoint(tmp_path):
    train_mod = pytest.importorskip("seqtk.training.train")
    from rich.console import Console

    from seqtk.inference.loading import load_for_inference

    path = tmp_path / "text.txt"
    path.write_text(PANGRAM * 30, encoding="utf-8")
    recipe = make_recipe(path, data={"batching": "stream"}, train={"max_steps": 12, "eval_every": 6, "lr": 0.01})
    console = Console(file=io.StringIO(), width=100)
    result = train_mod.run_training(recipe, out=tmp_path / "run", console=console)
    assert result.step == 12 and math.isfinite(result.metrics["loss"]) and "bits_per_char" in result.metrics
    assert result.report and result.report.startswith("Sample")
    loaded = load_for_inference(result.run_dir / "checkpoints" / "last.pt", device="cpu")
    request = GenerateRequest(prompt="the ", length=40, seed=3)
    first = loaded.task.generate(loaded.model, request, loaded.device)
    again = loaded.task.generate(loaded.model, request, loaded.device)
    assert first == again and len(first[0]) == 40


def test_stream_training_resumes_exactly(tmp_path):
    """6 steps + resume for 6 more == 12 straight: the carried state is checkpointed."""
    train_mod = pytest.importorskip("seqtk.training.train")
    from rich.console import Console

    from seqtk.inference.checkpoint import load_checkpoint

    path = tmp_path / "text.txt"
    path.write_text(PANGRAM * 30, encoding="utf-8")
    train = {"eval_every": 6, "lr": 0.01, "schedule": "constant"}
    whole = make_recipe(path, data={"batching": "stream"}, train={**train, "max_steps": 12})
    half = make_recipe(path, data={"batching": "stream"}, train={**train, "max_steps": 6})
    quiet = Console(file=io.StringIO())
    train_mod.run_training(whole, out=tmp_path / "straight", console=quiet)
    train_mod.run_training(half, out=tmp_path / "resumed", console=quiet)
    assert "stream_state" in load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["task_state"]
    train_mod.run_training(whole, out=tmp_path / "resumed", resume=True, console=quiet)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_checkpoint_vocab_wins_over_changed_text_in_a_checkpoint_without_a_split_record(tmp_path):
    """eval and resume restore the checkpoint's vocab, then prepare (seqtk.tasks.lifecycle): the text is encoded with it."""
    from seqtk.tasks import learned
    from seqtk.tasks.lifecycle import ready_task

    task, _ = prepared(tmp_path)
    state = {k: v for k, v in task.state_dict().items() if k != "split"}  # a checkpoint from before split records
    checkpoint = {"task_state": state, "learned": learned.save(task)}
    (tmp_path / "text.txt").write_text("Zebras! " + PANGRAM * 30, encoding="utf-8")  # new characters
    TextGenTask.console = task.console
    try:
        other = ready_task(TextGenTask, task.recipe, checkpoint)
    finally:
        TextGenTask.console = None
    assert other.vocab == task.vocab
    assert "predates textgen's record of its texts" in " ".join(task.console.file.getvalue().split())
    assert all(int(ids.max()) < len(task.vocab) for ids in other.ids.values())
    assert torch.equal(other.ids["train"][:8], task.encode("Zebras! "))  # unseen chars -> the OOV bucket


def test_resume_and_eval_refuse_a_text_that_changed_under_the_run(tmp_path):
    from seqtk.tasks import learned
    from seqtk.tasks.lifecycle import ready_task

    task, _ = prepared(tmp_path)
    checkpoint = {"task_state": task.state_dict(), "learned": learned.save(task)}
    assert set(checkpoint["task_state"]["split"]) == {"sizes", "fingerprint"}
    TextGenTask.console = task.console
    try:
        assert ready_task(TextGenTask, task.recipe, checkpoint).state_dict()["split"] == checkpoint["task_state"]["split"]
        (tmp_path / "text.txt").write_text(PANGRAM * 29 + PANGRAM.upper(), encoding="utf-8")  # same length
        with pytest.raises(SeqtkError, match="different split than the checkpoint was trained on"):
            ready_task(TextGenTask, task.recipe, checkpoint)
    finally:
        TextGenTask.console = None


def test_dropout_hits_the_head_input_once(tmp_path):
    # model.dropout is documented as embedding + between layers + before the head; the last layer's own
    # dropout on top of CharLM's would zero 1 - (1 - p)^2 of the head's input (0.75 at p = 0.5)
    task, model = prepared(tmp_path, model={"num_layers": 2, "dropout": 0.5})
    seen = {}
    model.head.register_forward_pre_hook(lambda module, args: seen.update(x=args[0]))
    model.train()(torch.randint(0, model.vocab_size, (32, 50)))
    assert abs(float((seen["x"] == 0).float().mean()) - 0.5) < 0.03
    assert [spec.dropout for spec in model.encoder.specs] == [0.5, 0.0]
