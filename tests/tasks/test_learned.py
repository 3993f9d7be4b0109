"""seqtk.tasks.learned: what Task.learned names is saved in checkpoints and restored by the core."""

from __future__ import annotations

import pytest
import torch

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint
from seqtk.tasks import learned
from seqtk.text.vocab import Vocab


class Holder:
    name = "holder"
    learned = ("vocab", "labels", "stats", "table", "weights", "missing")

    def __init__(self) -> None:
        self.vocab = self.labels = self.stats = self.table = self.weights = self.missing = None


def test_round_trip_of_every_kind_through_a_checkpoint_file(tmp_path):
    task = Holder()
    task.vocab, task.labels = Vocab.build([["a", "b", "b"]], num_oov_buckets=2), ("neg", "pos")
    task.stats, task.table, task.weights = [1.5, 2.0], {"M": ["4/4", "3/4"]}, torch.arange(3.0)
    saved = learned.save(task)
    assert "missing" not in saved  # None is not saved: prepare() builds it
    save_checkpoint(tmp_path / "c.pt", {"format": FORMAT, "version": VERSION, "learned": saved})  # weights_only loads it
    other = Holder()
    learned.restore(other, load_checkpoint(tmp_path / "c.pt")["learned"])
    assert other.vocab == task.vocab and other.labels == ("neg", "pos") and other.stats == [1.5, 2.0]
    assert other.table == {"M": ["4/4", "3/4"]} and torch.equal(other.weights, task.weights)
    assert learned.describe(task).startswith("vocab (") and "labels (2)" in learned.describe(task)


def test_a_value_seqtk_cannot_save_is_named_with_the_fix():
    task = Holder()
    task.stats = object()
    with pytest.raises(SeqtkError, match="lists 'stats' in Task.learned.*is a object.*Fix: make self.stats plain data"):
        learned.save(task)


@pytest.mark.parametrize("path", ["os_not_loaded_module:Thing", "collections:OrderedDict", "torch:Tensor",
                                  "seqtk.text.vocab:Vocab.__init__", "seqtk.text.vocab:_private", "seqtk.text.vocab:NoSuchClass"])
def test_a_checkpoint_cannot_choose_the_code_that_runs(path):
    with pytest.raises(SeqtkError, match="the checkpoint's learned state 'stats' .*Fix: load it with the task plugin"):
        learned.restore(Holder(), {"stats": {"object": path, "data": {}}})


def test_only_declared_names_are_restored_and_odd_values_are_handled():
    task = Holder()
    learned.restore(task, {"evaluate": {"plain": 1}, "stats": {"plain": [[1, 2], [3]]}})
    assert not hasattr(task, "evaluate") and task.stats == [[1, 2], [3]]
    task.weights = torch.tensor(2.0)  # a 0-d tensor has no length
    assert learned.describe(task) == "stats (2), weights"
    task.table = [[0.5, 1.0], [2.0]]  # a list of lists is plain data
    assert learned.save(task)["table"] == {"plain": [[0.5, 1.0], [2.0]]}


def test_a_checkpoint_from_before_learned_still_generates(tmp_path, capsys):
    # the vocabulary in task_state and no "learned": the plugin's load_state_dict still reads it
    run = tmp_path / "run"
    assert main(["run", "textgen_tiny", "train.max_steps=4", "train.eval_every=4", "log.tensorboard=false",
                 "--out", str(run)]) == 0
    payload = load_checkpoint(run / "checkpoints" / "last.pt")
    payload["task_state"]["vocab"] = payload.pop("learned")["vocab"]["data"]
    save_checkpoint(tmp_path / "old.pt", payload)
    capsys.readouterr()
    assert main(["generate", str(tmp_path / "old.pt"), "--length", "20", "--json"]) == 0
    assert main(["eval", str(tmp_path / "old.pt"), "--json", "--max-batches", "1"]) == 0


class Learner:
    name = "learner"
    learned = ("vocab", "labels")

    def __init__(self, vocab=None, labels=None, result=None) -> None:
        self.vocab, self.labels, self.calls = vocab, labels, 0
        self.result = {"vocab": Vocab.build([["a"]]), "labels": ["x"]} if result is None else result

    def learn(self):
        self.calls += 1
        return self.result


def test_fill_learns_only_what_was_not_restored():
    restored = Vocab.build([["b", "c"]])
    whole = Learner()
    learned.restore(whole, learned.save(Learner(vocab=restored, labels=["y"])))
    learned.fill(whole, whole.learn)
    assert whole.calls == 0 and whole.vocab == restored and whole.labels == ["y"]
    partly = Learner()  # a checkpoint from before labels were learned
    learned.restore(partly, learned.save(Learner(vocab=restored)))
    learned.fill(partly, partly.learn)
    assert partly.calls == 1 and partly.vocab == restored and partly.labels == ["x"]
    fresh = Learner(labels=["a default from __init__"])  # no checkpoint: everything is learned
    learned.fill(fresh, fresh.learn)
    assert fresh.calls == 1 and fresh.labels == ["x"]


@pytest.mark.parametrize(("result", "message"), [
    ({"vocab": Vocab.build([["a"]])}, "learn\\(\\) did not return labels"),
    ({"vocab": 1, "labels": [], "extra": 2}, "learn\\(\\) returned extra, which Task.learned does not list"),
    (["vocab"], "learn\\(\\) returned a list, not a dict"),
])
def test_fill_names_a_learn_that_does_not_match_learned(result, message):
    task = Learner(result=result)
    with pytest.raises(SeqtkError, match=message + ".*Fix: "):
        learned.fill(task, task.learn)


def test_a_task_needs_its_learned_state_before_use(tmp_path):
    from seqtk.config.conversion import resolve
    from seqtk.tasks.contract import check_task_class
    from seqtk.tasks.task import Task

    class Hooks(Task):
        name = "hooks"
        learned = ("vocab",)

        def load_data(self):
            pass

    task = Hooks(resolve({"task": {"name": "hooks"}}, "hooks", Hooks))
    with pytest.raises(SeqtkError, match="task 'hooks' has no vocab yet.*Fix: call prepare\\(\\)"):
        task.need("vocab")
    with pytest.raises(SeqtkError, match="learn\\(\\) did not return vocab"):
        task.prepare()
    with pytest.raises(SeqtkError, match="does not implement prepare \\(or its hooks load_data and learn\\)"):
        check_task_class(Hooks)
