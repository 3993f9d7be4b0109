"""The tag task's readers: four formats, format detection, and an error naming file and line for each bad input."""

from __future__ import annotations

import json

import pytest

from seqtk.errors import SeqtkError
from seqtk_plugins.tag.readers import ReadOptions, Sentence, detect_format, read_file, read_lines

CONLLU = """# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:conj\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""

COLUMNS = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
"""


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_conllu_reads_form_and_upos_skipping_comments_ranges_and_empty_nodes(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    assert read_file(path) == [
        Sentence(("Do", "n't", "go", "."), ("AUX", "PART", "VERB", "PUNCT")),
        Sentence(("Yes",), ("INTJ",)),
    ]
    xpos = read_file(path, ReadOptions(conllu_tag="xpos"))
    assert xpos[0].tags == ("VBP", "RB", "VB", ".")


def test_columns_read_the_last_column_by_default_and_any_column_on_request(tmp_path):
    path = write(tmp_path, "train.txt", COLUMNS)
    ner = read_file(path, ReadOptions(format="columns"))
    assert ner == [Sentence(("EU", "rejects", "German"), ("B-ORG", "O", "B-MISC")), Sentence(("Peter",), ("B-PER",))]
    chunks = read_file(path, ReadOptions(format="columns", tag_column=2))
    assert chunks[0].tags == ("B-NP", "B-VP", "B-NP")


def test_slash_lines_split_at_the_last_slash(tmp_path):
    path = write(tmp_path, "ca01", "\n\n\tThe/at 1/2/cd and/or/cc ./.\n\n\tOK/uh\n")
    assert read_file(path) == [Sentence(("The", "1/2", "and/or", "."), ("at", "cd", "cc", ".")), Sentence(("OK",), ("uh",))]


def test_jsonl_with_chosen_keys(tmp_path):
    rows = [{"words": ["a", "b"], "labels": ["X", "Y"]}, {"words": ["c"], "labels": ["Z"]}]
    path = write(tmp_path, "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    got = read_file(path, ReadOptions(tokens_key="words", tags_key="labels"))
    assert got == [Sentence(("a", "b"), ("X", "Y")), Sentence(("c",), ("Z",))]


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("x.conllu", "1\tA\ta\tX\tX\t_\t0\troot\t_\t_\n", "conllu"),
    ("x.txt", "# c\n1\tA\ta\tX\tX\t_\t0\troot\t_\t_\n", "conllu"),
    ("x.jsonl", '{"tokens": ["a"], "tags": ["X"]}\n', "jsonl"),
    ("x", '{"tokens": ["a"], "tags": ["X"]}\n', "jsonl"),
    ("x.bio", "EU B-ORG\nrejects O\n", "columns"),
    ("cb01", "\tThe/at dog/nn\n", "slash"),
])  # fmt: skip
def test_auto_detects_the_format(tmp_path, name, text, expected):
    path = write(tmp_path, name, text)
    assert detect_format(path, read_lines(path)) == expected


def error(path, options=ReadOptions()) -> str:
    with pytest.raises(SeqtkError) as err:
        read_file(path, options)
    return str(err.value)


def test_a_missing_tag_column_is_named_with_the_fix(tmp_path):
    msg = error(write(tmp_path, "words.txt", "EU\nrejects\n"), ReadOptions(format="columns"))
    assert "line 1" in msg and "no tag column" in msg and "data.tag_column" in msg
    msg = error(write(tmp_path, "bad.conllu", "1\tA\ta\tX\n"))
    assert "bad.conllu line 1" in msg and "4 tab-separated fields" in msg and "UPOS tag column is missing" in msg


def test_a_token_without_a_tag_names_file_and_line(tmp_path):
    msg = error(write(tmp_path, "ner.txt", "EU B-ORG\nrejects O\n\nGerman B-MISC\ncall\n"), ReadOptions(format="columns"))
    assert "ner.txt line 5" in msg and "'call' has no tag" in msg
    msg = error(write(tmp_path, "ca01", "The/at dog/nn\nbarks/vbz loudly\n"), ReadOptions(format="slash"))
    assert "ca01 line 2" in msg and "'loudly' has no tag" in msg
    msg = error(write(tmp_path, "x.conllu", "1\tA\ta\t_\tX\t_\t0\troot\t_\t_\n"))
    assert "x.conllu line 1" in msg and "no UPOS tag" in msg and 'data.conllu_tag = "xpos"' in msg


def test_an_empty_file_is_refused(tmp_path):
    msg = error(write(tmp_path, "empty.txt", "\n  \n"))
    assert "empty.txt' is empty" in msg and "Fix:" in msg
    msg = error(write(tmp_path, "docs.txt", "-DOCSTART- -X- O\n\n"), ReadOptions(format="columns"))
    assert "holds no tagged sentences" in msg


def test_bytes_that_are_not_utf8_name_line_and_column(tmp_path):
    path = write(tmp_path, "latin.txt", "EU B-ORG\nCaf\u00e9 O\n", encoding="latin-1")
    msg = error(path)
    assert "not UTF-8: line 2, column 4" in msg and "0xe9" in msg and "iconv" in msg


def test_jsonl_length_mismatch_and_bad_lines_name_the_line(tmp_path):
    text = '{"tokens": ["a", "b"], "tags": ["X", "Y"]}\n{"tokens": ["a", "b"], "tags": ["X"]}\n'
    msg = error(write(tmp_path, "m.jsonl", text))
    assert "m.jsonl line 2 has 2 tokens but 1 tags" in msg
    msg = error(write(tmp_path, "k.jsonl", '{"words": ["a"], "tags": ["X"]}\n'))
    assert "line 1: 'tokens' is not a list" in msg and "the object has: words, tags" in msg and "data.tokens_key" in msg
    msg = error(write(tmp_path, "j.jsonl", '{"tokens": ["a"], "tags": ["X"]}\n{"tokens": [\n'))
    assert "j.jsonl line 2 is not valid JSON" in msg
