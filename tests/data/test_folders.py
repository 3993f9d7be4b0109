"""A folder named as data is read by one rule, or refused with the fix before any file is read."""

from __future__ import annotations

import os

import pytest

from seqtk.data.folders import data_files
from seqtk.errors import SeqtkError


def _touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_reads_matching_files_down_to_the_depth_and_skips_hidden_ones(tmp_path):
    for rel in ("a.txt", "b/c.txt", "b/c/d/e/f.txt", "notes.md", ".hidden.txt", ".git/x.txt"):
        _touch(tmp_path / rel)
    got = [p.relative_to(tmp_path).as_posix() for p in data_files(tmp_path, (".txt",))]
    assert sorted(got) == ["a.txt", "b/c.txt", "b/c/d/e/f.txt"]


def test_a_folder_deeper_than_the_rule_is_refused_naming_the_path(tmp_path):
    _touch(tmp_path / "1/2/3/4/5/deep.txt")
    with pytest.raises(SeqtkError, match=r"more than 4 levels deep \(e.g. '1/2/3/4/5'\).*Fix: point data.path"):
        data_files(tmp_path, (".txt",))


def test_too_many_files_or_entries_are_refused_before_reading(tmp_path):
    for i in range(6):
        _touch(tmp_path / f"{i}.txt")
    with pytest.raises(SeqtkError, match="more than 5 \\*.txt files"):
        data_files(tmp_path, (".txt",), max_files=5)
    with pytest.raises(SeqtkError, match="looks like a whole disk"):
        data_files(tmp_path, (".txt",), max_entries=3)


def test_a_symlink_loop_is_not_followed(tmp_path):
    _touch(tmp_path / "a/t.txt")
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a/loop -> the folder itself
    assert [p.name for p in data_files(tmp_path, (".txt",))] == ["t.txt"]


def test_textgen_refuses_the_root_folder_quickly_with_the_rule(tmp_path):
    from seqtk_plugins.textgen.corpus import read_path

    with pytest.raises(SeqtkError, match=r"seqtk reads \*.txt files in a folder and its sub-folders up to 4 levels"):
        read_path("/")
