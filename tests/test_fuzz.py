"""Property-based fuzzing (issue 29, item 4): recipe overrides, table files, tagged-sentence files,
tokenizers and ``seqtk predict --file``.

The property of every section: any input gives a result or a :class:`SeqtkError`, never another
exception, and a result lines up with its input (the rows written are the rows read, one prediction
input per line, one token list per text, a written recipe reads back as itself). The inputs hypothesis
found are kept as ``@example``\\ s and as the named tests under "Found by fuzzing" in each section.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from seqtk.cli.inputs import read_inputs
from seqtk.config.recipe_io import parse_override, to_toml
from seqtk.data.tables import read_file as read_table
from seqtk.errors import SeqtkError
from seqtk.tasks.loading import load_recipe
from seqtk.text.tokenize import BPETokenizer, make_tokenizer
from seqtk.text.vocab import Vocab
from seqtk_plugins.tag.readers import ReadOptions, Sentence
from seqtk_plugins.tag.readers import read_file as read_tagged

# Pieces that break readers: line ends of every kind, quotes, separators, NUL, BOM, Unicode line breaks
# (U+2028, U+0085 and form feed, which str.splitlines cuts at), an accent, a JSON null.
ODD = ["\n", "\r\n", "\r", ",", "\t", '"', "'", "\x00", "\ufeff", "\u2028", "\x85", "\x0c", " ", "é", "#", "/",
       "\\", "{", "}", "[", "]", ":", "null", "NA", "007", "_", "a", "b"]  # fmt: skip
odd_text = st.lists(st.sampled_from(ODD), max_size=24).map("".join) | st.text(max_size=24)
odd_bytes = odd_text.map(lambda text: text.encode("utf-8", "surrogatepass")) | st.binary(max_size=48)
FAST = settings(max_examples=40, deadline=None)


def result_or_refusal(read, *args, **kwargs):
    """``read(*args)``, or None when it refuses with a SeqtkError; any other exception fails the test."""
    try:
        return read(*args, **kwargs)
    except SeqtkError:
        return None


_FOLDER = tempfile.TemporaryDirectory(prefix="seqtk-fuzz-")  # removed when the test process ends


@pytest.fixture(autouse=True, scope="module")
def _datasets_cache_in_the_temporary_folder():
    """Every table file read is new, and datasets caches each one: here, not in the user's cache."""
    import datasets

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.config, "HF_DATASETS_CACHE", Path(_FOLDER.name) / "datasets-cache")
        yield


def fresh_file(name: str, data: bytes) -> Path:
    """A new file holding ``data`` (hypothesis runs many examples per test, so no tmp_path fixture)."""
    path = Path(tempfile.mkdtemp(dir=_FOLDER.name)) / name
    path.write_bytes(data)
    return path


def plain(value):
    """Recipe data as TOML reads it back: tuples as lists, None values left out (to_toml omits them)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------------
# Recipe overrides: parse_override, apply_overrides, load_recipe, and the recipe written back (config.toml)
# ---------------------------------------------------------------------------------------------------------

TINY = ["toy_tiny", "classify_tiny", "textgen_tiny", "tag_tiny", "seq2seq_tiny"]
KEYS = ["task.name", "data.source", "data.path", "data.text_column", "data.label_separator", "data.problem",
        "data.format", "data.tags", "vocab.tokens", "vocab.max_size", "model.cell", "model.hidden_size",
        "model.layers", "model.layers.cell", "model.embedding_dim", "train.lr", "train.max_steps", "train.seed",
        "train.device", "train.time_budget", "train.batch_size", "log.every", "log.progress", "train", "x.y",
        "train.lr.x", "data..path", ".a", "a."]  # fmt: skip
VALUES = ["1", "-1", "0", "1e400", "nan", "inf", "true", "'x'", '"x"', "[1, 2]", "{a = 1}", "[]", "3e-4", "auto",
          "", "2024-01-01", "07:30", '"\\u0001"', "[{cell = 'gru', hidden_size = 2}]", "1\nx = 2", '"a" # c',
          "0x10", "1_000", "99999999999999999999999", "'''a\nb'''", "cpu\r"]  # fmt: skip
override = (st.tuples(st.sampled_from(KEYS) | st.text(max_size=12), st.sampled_from(VALUES) | odd_text)
            .map(lambda kv: f"{kv[0]}={kv[1]}") | odd_text)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(TINY), st.lists(override, max_size=3))
@example("toy_tiny", ["train.lr=1\nx=2"])  # was: x=2 silently dropped
@example("textgen_tiny", ['data.path="a\\u0001b"', "data.label_separator='''a\nb'''"])
def test_any_override_gives_a_recipe_or_a_seqtk_error_and_the_recipe_reads_back(name, overrides):
    check_overrides(name, overrides)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(TINY), st.lists(override, max_size=4))
def test_any_override_gives_a_recipe_or_a_seqtk_error_and_the_recipe_reads_back_long(name, overrides):
    check_overrides(name, overrides)


def check_overrides(name: str, overrides: list[str]) -> None:
    recipe = result_or_refusal(load_recipe, name, overrides)
    if recipe is None:
        return
    header = f"# resolved from {name} with {' '.join(overrides)}"  # as `seqtk recipes show` writes it
    assert tomllib.loads(to_toml(recipe.to_dict(), header=header)) == plain(recipe.to_dict())


toml_value = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.booleans(), st.text(),
                       st.lists(st.integers(-9, 9), max_size=3), st.lists(st.text(max_size=3), max_size=3))  # fmt: skip
key_part = st.text("abcxyz_-019", min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(key_part, min_size=1, max_size=3), toml_value)
@example(["data", "label_separator"], "\x1f")  # was: written raw, which TOML refuses, so read back as text '"\x1f"'
def test_a_value_as_to_toml_writes_it_is_the_value_an_override_reads(parts, value):
    written = to_toml({"s": {"k": value}}).split("k = ", 1)[1].rstrip("\n")
    assert parse_override(f"{'.'.join(parts)}={written}") == (parts, value)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(TINY), st.integers(1, 10**6), st.integers(0, 2**31), st.floats(1e-6, 1.0))
def test_the_last_override_of_a_key_is_the_recipes_value(name, steps, seed, lr):
    recipe = load_recipe(name, [f"train.max_steps={steps + 1}", f"train.max_steps={steps}", f"train.seed={seed}",
                                f"train.lr={lr!r}"])  # fmt: skip
    assert (recipe.train.max_steps, recipe.train.seed, recipe.train.lr) == (steps, seed, lr)


# Found by fuzzing


def test_an_override_with_a_second_value_after_a_line_break_is_refused():
    with pytest.raises(SeqtkError) as err:  # was: train.lr = 1, and x = 2 silently dropped
        parse_override("train.lr=1\nx=2")
    assert "the override 'train.lr=1\\nx=2' holds more than one value" in str(err.value)
    assert "TOML reads x, which would be ignored" in str(err.value)
    assert parse_override("data.path='''a\nb'''") == (["data", "path"], "a\nb")  # one value over two lines is fine


def test_a_number_given_for_a_text_key_says_how_to_quote_it():
    with pytest.raises(SeqtkError) as err:  # was: "set data.path ... as data.path=VALUE", what the user had done
        load_recipe("textgen_tiny", ["data.path=2024"])
    assert "Fix: quote the value to keep it text: data.path='\"2024\"' on the command line" in str(err.value)
    assert load_recipe("textgen_tiny", ['data.path="2024"']).data.path == "2024"


def test_a_control_character_in_a_recipe_string_is_written_as_an_escape():
    recipe = load_recipe("classify_tiny", ["data.source=file", "data.path=labels.jsonl", "data.multi_label=true",
                                           'data.label_separator="\\u001f"'])  # a unit separator between labels
    written = to_toml(recipe.to_dict(), header="# seqtk run r.toml data.label_separator=\x1f")
    assert written.startswith("# seqtk run r.toml data.label_separator=\\u001f\n")
    assert 'label_separator = "\\u001f"' in written
    assert tomllib.loads(written)["data"]["label_separator"] == "\x1f"  # was: TOMLDecodeError, invalid character


# ---------------------------------------------------------------------------------------------------------
# Table files (seqtk.data.tables.read_file): CSV, TSV, JSONL, JSON, parquet
# ---------------------------------------------------------------------------------------------------------

SUFFIXES = [".csv", ".tsv", ".jsonl", ".json", ".parquet"]


def json_records(suffix: str, data: bytes) -> list:
    """The records of a JSON or JSONL file as Python's json reads them: the lines that are not blank (cut
    at \\n, \\r\\n and \\r, as pyarrow cuts them), or the items of a .json list, or a .json file's one value."""
    text = data.decode("utf-8-sig")
    if suffix == ".json":
        try:
            value = json.loads(text)
        except ValueError:
            pass  # JSON lines under a .json name
        else:
            return value if isinstance(value, list) else [value]
    return [json.loads(line) for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def csv_rows(suffix: str, data: bytes) -> tuple[list[str], list[dict]]:
    """The header and rows of a CSV or TSV file as Python's csv reads them, an empty cell missing."""
    text = data.decode("utf-8-sig")
    header, *rows = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
    cells = [{h: row[j] if j < len(row) and row[j] else None for j, h in enumerate(header)} for row in rows if row]
    return header, cells


def spaces_only(row: dict) -> bool:
    """A row of one cell holding nothing but spaces and tabs: pandas skips such a line (unless quoted)."""
    return len(row) == 1 and not (next(iter(row.values())) or "").strip(" \t")


def check_table_bytes(suffix: str, data: bytes) -> None:
    table = result_or_refusal(read_table, fresh_file(f"t{suffix}", data))
    if table is None:
        return
    got = table.dataset.to_list()
    assert len(got) == len(table) >= 1
    if suffix in (".json", ".jsonl"):  # one row per record, and every record an object
        records = json_records(suffix, data)
        assert len(table) == len(records) and all(isinstance(r, dict) for r in records)
    if suffix in (".csv", ".tsv"):  # the header's columns, and each row's cells under them
        header, rows = csv_rows(suffix, data)
        assert table.names == header
        assert [r for r in got if not spaces_only(r)] == [r for r in rows if not spaces_only(r)]


@FAST
@given(st.sampled_from(SUFFIXES), odd_bytes)
@example(".jsonl", b"[1]\n")  # was: a row of a column 'text' holding 1
@example(".json", b'{"a": 1}\n{"a": 2} null\n')  # was: three rows
@example(".csv", b"text,label\nhello,pos,\nbye,neg,\n")  # was: text 'pos', label missing
@example(".tsv", b"a\ta\n1\t2\n")  # was: one column, 'a' = '1'
def test_any_bytes_in_a_table_file_give_a_table_or_a_seqtk_error(suffix, data):
    check_table_bytes(suffix, data)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(SUFFIXES), odd_bytes)
def test_any_bytes_in_a_table_file_give_a_table_or_a_seqtk_error_long(suffix, data):
    check_table_bytes(suffix, data)


cell = st.lists(st.sampled_from(ODD), max_size=4).map("".join) | st.text(st.characters(codec="utf-8"), max_size=6)
names = st.lists(st.text("abcxyz_", min_size=1, max_size=4), min_size=1, max_size=3, unique=True)
table_case = names.flatmap(lambda header: st.tuples(
    st.just(header), st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), min_size=1, max_size=5)))


def write_rows(kind: str, header: list[str], rows: list[list[str]], end: str, blank: bool) -> bytes:
    """``rows`` under ``header`` in a file of ``kind``, lines ended by ``end`` (blank lines between rows with
    ``blank``)."""
    gap = end if blank else ""
    if kind in ("csv", "tsv"):
        out = io.StringIO()  # QUOTE_MINIMAL quotes a cell holding \r only when \r is in the line end
        writer = csv.writer(out, delimiter="," if kind == "csv" else "\t", lineterminator=end + gap,
                            quoting=csv.QUOTE_MINIMAL if end == "\r\n" else csv.QUOTE_ALL)  # fmt: skip
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue().encode()
    records = [dict(zip(header, row)) for row in rows]
    if kind == "json":
        return json.dumps(records, ensure_ascii=False).encode()
    if kind == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + end + gap for r in records).encode()
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), sink)
    return sink.getvalue()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["csv", "tsv", "jsonl", "json", "parquet"]), table_case, st.sampled_from(["\n", "\r\n", "\r"]),
       st.booleans(), st.booleans())  # fmt: skip
def test_the_rows_written_are_the_rows_read(kind, case, end, blank, bom):
    header, rows = case
    data = write_rows(kind, header, rows, end, blank)
    table = read_table(fresh_file(f"t.{kind}", (b"\xef\xbb\xbf" if bom and kind != "parquet" else b"") + data))
    empty = None if kind in ("csv", "tsv") else ""  # an empty CSV cell is missing, as documented
    assert table.names == header
    assert table.dataset.to_list() == [{n: c if c != "" else empty for n, c in zip(header, row)} for row in rows]


# Found by fuzzing


def read_in_a_child(path: Path) -> subprocess.CompletedProcess:
    """read_file in another process: the bug was a segfault, which would end this test run, not fail one test."""
    code = ("import sys; from pathlib import Path; from seqtk.data.tables import read_file\n"
            "try:\n    read_file(Path(sys.argv[1]))\nexcept Exception as e:\n    print(type(e).__name__, e)")  # fmt: skip
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("x.jsonl", "null\n", "line 1 is not one JSON object (it is null): null"),
    ("x.jsonl", '{"text": "a"}\n\nnull\n{"text": "b"}\n', "line 3 is not one JSON object (it is null)"),
    ("x.json", "null", "holds null, not records"),
    ("x.json", '[null, {"text": "a"}]', "item 1 of the list in"),
])  # fmt: skip
def test_a_json_null_record_is_refused_not_a_segfault(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    done = read_in_a_child(path)
    assert done.returncode == 0, f"the reader died ({done.returncode}; -11 is a segfault): {done.stderr[-500:]}"
    assert done.stdout.startswith("SeqtkError") and expected in done.stdout


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("x.jsonl", '[1]\n', "line 1 is not one JSON object (it is a JSON array): [1]"),
    ("x.json", '["hello", "bye"]', "item 1 of the list in '{path}' is not a JSON object (it is a JSON string)"),
    ("x.jsonl", '{"text": "a"} null\n', "line 1 is not one JSON object (Extra data at column 15)"),
    ("x.jsonl", '{"text": "a"}{"text": "b"}\n', "line 1 is not one JSON object (Extra data at column 14)"),
    ("x.json", '[{"text": "a"}, null]', "item 2 of the list in '{path}' is not a JSON object (it is null)"),
])  # fmt: skip
def test_a_json_record_that_is_not_one_object_is_refused_not_read_as_rows(tmp_path, name, text, expected):
    path = tmp_path / name  # was: a 'text' column nobody wrote, two rows from one line, or a row of None
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeqtkError) as err:
        read_table(path)
    assert expected.format(path=path) in str(err.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("text,label\nhello,pos,\nbye,neg,\n", "line 2 of '{path}' has 3 cells but the header names 2 columns, so "
     "every cell would move one column to the left. Fix: remove the extra cell (often a delimiter at the end"),
    ("a,b,a\n1,2,3\n", "the header of '{path}' names the column 'a' twice (columns 1 and 3), so one of them "
     "would be dropped. Fix: give every column its own name"),
    ("text,label,\nhello,pos,\n", "column 3 of the header of '{path}' has no name. Fix: name every column"),
])  # fmt: skip
def test_a_csv_header_that_pandas_would_misread_is_refused(tmp_path, text, expected):
    path = tmp_path / "x.csv"  # was: cells shifted left (the text column reading labels), a column dropped,
    path.write_text(text, encoding="utf-8")  # or 'KeyError: Field "" does not exist in schema'
    with pytest.raises(SeqtkError) as err:
        read_table(path)
    assert expected.format(path=path) in str(err.value)


def test_a_csv_header_name_may_hold_a_quoted_line_break(tmp_path):
    path = tmp_path / "x.csv"  # was: the header read from the first line alone: 'Field "a" does not exist'
    path.write_text('"a\nb",c\u2028d\n1,2\n', encoding="utf-8")
    assert read_table(path).dataset.to_list() == [{"a\nb": "1", "c\u2028d": "2"}]


def test_json_lines_ended_by_a_lone_carriage_return_still_read(tmp_path):
    path = tmp_path / "x.jsonl"  # the check before pyarrow cuts lines where pyarrow does
    path.write_bytes(b'{"text": "a"}\r{"text": "b\\u2028c"}\r')
    assert read_table(path).column("text") == ["a", "b\u2028c"]


# ---------------------------------------------------------------------------------------------------------
# Tagged sentences (seqtk_plugins.tag.readers): CoNLL-U, CoNLL columns, word/TAG lines, JSONL
# ---------------------------------------------------------------------------------------------------------

TAG_NAMES = ["x.txt", "x.conllu", "x.jsonl", "x.conll", "x"]
FORMATS = ["auto", "conllu", "columns", "slash", "jsonl"]
TAG_PIECES = ["1", "2", "1-2", "1.1", "-DOCSTART-", "The", "DT", '{"tokens": ["a"], "tags": ["X"]}',
              "1\ta\ta\tNOUN\tNN\t_\t0\troot\t_\t_", '"tokens"', '"tags"']  # fmt: skip
tag_bytes = odd_bytes | st.lists(st.sampled_from(ODD + TAG_PIECES), max_size=24).map(lambda p: "".join(p).encode())


def check_tagged_bytes(name: str, data: bytes, fmt: str, word_column: int, tag_column: int) -> None:
    options = ReadOptions(format=fmt, word_column=word_column, tag_column=tag_column)
    for sentence in result_or_refusal(read_tagged, fresh_file(name, data), options) or []:
        assert len(sentence.words) == len(sentence.tags) >= 1


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(TAG_NAMES), tag_bytes, st.sampled_from(FORMATS), st.integers(-3, 3), st.integers(-3, 3))
@example("x.jsonl", b"[" * 100_000, "auto", 0, -1)  # was: RecursionError
def test_any_bytes_in_a_tagged_file_give_sentences_or_a_seqtk_error(name, data, fmt, word_column, tag_column):
    check_tagged_bytes(name, data, fmt, word_column, tag_column)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(TAG_NAMES), tag_bytes, st.sampled_from(FORMATS), st.integers(-3, 3), st.integers(-3, 3))
def test_any_bytes_in_a_tagged_file_give_sentences_or_a_seqtk_error_long(name, data, fmt, word_column, tag_column):
    check_tagged_bytes(name, data, fmt, word_column, tag_column)


tag = st.text("ABCNPVXadj-$.,", min_size=1, max_size=4).filter(lambda t: t != "_")
no_space = st.text(st.characters(codec="utf-8"), min_size=1, max_size=5).filter(lambda w: not re.search(r"\s", w))
conllu_form = st.text(st.characters(codec="utf-8", blacklist_characters="\t\r\n"), min_size=1, max_size=5)
any_word = st.text(st.characters(codec="utf-8"), min_size=1, max_size=5).filter(str.strip)
WORDS = {"conllu": conllu_form, "columns": no_space.filter(lambda w: w != "-DOCSTART-"), "slash": no_space,
         "jsonl": any_word}  # fmt: skip


def write_sentences(fmt: str, sentences: list[Sentence], end: str) -> str:
    """``sentences`` in format ``fmt``, lines ended by ``end``."""
    if fmt == "conllu":
        token = "{}\t{}\t_\t{}\t_\t_\t0\troot\t_\t_"
        blocks = [end.join(token.format(i, w, t) for i, (w, t) in enumerate(zip(*s), 1)) for s in sentences]
        return (end + end).join(blocks) + end
    if fmt == "columns":
        return (end + end).join(end.join(f"{w} {t}" for w, t in zip(*s)) for s in sentences) + end
    if fmt == "slash":
        return "".join(" ".join(f"{w}/{t}" for w, t in zip(*s)) + end for s in sentences)
    return "".join(json.dumps({"tokens": s.words, "tags": s.tags}, ensure_ascii=False) + end for s in sentences)


@st.composite
def tagged_files(draw):
    fmt = draw(st.sampled_from(["conllu", "columns", "slash", "jsonl"]))
    lengths = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    sentences = [Sentence(tuple(draw(st.lists(WORDS[fmt], min_size=n, max_size=n))),
                          tuple(draw(st.lists(tag, min_size=n, max_size=n)))) for n in lengths]  # fmt: skip
    return fmt, sentences, draw(st.sampled_from(["\n", "\r\n", "\r"]))


@settings(max_examples=100, deadline=None)
@given(tagged_files())
@example(("conllu", [Sentence(("New\u2028York", "a\x0cb"), ("PROPN", "X"))], "\n"))  # was: a line cut at U+2028
@example(("jsonl", [Sentence(("a\x85b",), ("X",))], "\n"))  # was: a JSON line cut at U+0085
@example(("slash", [Sentence(("The", "dog"), ("DT", "NN"))], "\r"))
def test_the_sentences_written_are_the_sentences_read(case):
    fmt, sentences, end = case
    text = write_sentences(fmt, sentences, end)
    assert read_tagged(fresh_file(f"x.{fmt}", text.encode()), ReadOptions(format=fmt)) == sentences
    if fmt in ("conllu", "jsonl"):  # detected by the suffix
        assert read_tagged(fresh_file(f"x.{fmt}", text.encode())) == sentences


# Found by fuzzing


def test_a_word_tag_file_with_one_untagged_token_is_refused_not_read_as_columns(tmp_path):
    path = tmp_path / "brown.txt"  # was: auto-detected as columns, words ('The/DT', 'A/DT'), tags ('dog', ...)
    path.write_text("The/DT dog barks/VBZ\nA/DT cat/NN\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match=r"brown.txt line 1: the token 'dog' has no tag \(word/TAG tokens"):
        read_tagged(path)


def test_a_jsonl_line_nested_too_deeply_is_a_seqtk_error(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match=r"deep.jsonl line 1 is not valid JSON \(nested too deeply\)"):
        read_tagged(path)  # was: RecursionError


# ---------------------------------------------------------------------------------------------------------
# Tokenizers (seqtk.text.tokenize) and their vocabularies: one token list (one id list) per text, in order
# ---------------------------------------------------------------------------------------------------------

TOKEN_PIECES = ["a", "b", "ab", " ", "\t", "\n", "\x1c", "\x85", "\u2028", "\u00a0", "'", ".", "#", "##", "<unk>",
                "<pad>", "İ", "ß", "\u0301", "\x00", "\ufeff", "😀"]  # fmt: skip
texts = st.lists(st.text(max_size=24) | st.lists(st.sampled_from(TOKEN_PIECES), max_size=10).map("".join),
                 min_size=1, max_size=5)  # fmt: skip
RUST_SPACE = r"[^\S\x1c-\x1f]"  # the word splitter's whitespace (Rust's): Python's, less U+001C-U+001F


def lines_up(vocab: Vocab, tokens: list[list[str]]) -> None:
    """The vocabulary's ids: one row per text, its length the text's token count, decoding back to its tokens."""
    ids, lengths = vocab.encode_batch(tokens)
    assert ids.shape[0] == len(tokens) and lengths.tolist() == [len(t) for t in tokens]
    assert vocab.decode_batch(ids, lengths) == tokens


@settings(max_examples=150, deadline=None)
@given(texts, st.sampled_from(["char", "word", "space"]), st.booleans())
def test_every_text_gets_one_token_list_in_order(batch, kind, lowercase):
    tokenizer = make_tokenizer(kind, lowercase=lowercase)
    tokens = tokenizer.tokenize_batch(batch)
    assert tokens == [tokenizer.tokenize(text) for text in batch] and all(all(t) for t in tokens)
    for text, toks in zip(batch, tokens):
        if kind == "char" and not lowercase:
            assert tokenizer.detokenize(toks) == text
        if kind == "word" and not lowercase:
            assert "".join(toks) == re.sub(RUST_SPACE, "", text)  # nothing but whitespace is dropped
        if kind == "space":
            assert toks == (text.lower() if lowercase else text).split()
        if kind != "char":
            assert tokenizer.tokenize(tokenizer.detokenize(toks)) == toks
    lines_up(Vocab.build(tokens), tokens)


@settings(max_examples=60, deadline=None)
@given(texts, texts, st.booleans())
def test_bpe_gives_one_token_list_per_text_and_its_words_back(train, other, lowercase):
    bpe = result_or_refusal(BPETokenizer(vocab_size=60, min_frequency=1, lowercase=lowercase).train, train)
    if bpe is None:  # nothing but whitespace to learn from: refused
        return
    for batch in (train, other):  # texts it learned from, and texts with characters it never saw
        tokens = bpe.tokenize_batch(batch)
        assert tokens == [bpe.tokenize(text) for text in batch] and all(all(t) for t in tokens)
        lines_up(Vocab.from_tokenizer(bpe), tokens)
    for toks in bpe.tokenize_batch(train):  # every character seen: the words put back together split alike
        assert bpe.tokenize(bpe.detokenize(toks)) == toks


bpe_options = st.fixed_dictionaries({
    "vocab_size": st.one_of(st.integers(-3, 100), st.booleans(), st.floats(0, 10), st.text(max_size=3)),
    "min_frequency": st.one_of(st.integers(-3, 5), st.floats(-1, 3), st.none()),
    "unk_token": st.text(max_size=4) | st.none() | st.integers(),
    "special_tokens": st.lists(st.text(max_size=4) | st.integers(), max_size=3),
    "lowercase": st.booleans(),
})  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(bpe_options, st.lists(st.text(max_size=12), max_size=4))
@example({"vocab_size": 64, "min_frequency": -1, "unk_token": "<unk>", "special_tokens": [], "lowercase": False},
         ["low lower"])  # was: OverflowError, can't convert negative int to unsigned  # fmt: skip
def test_any_bpe_options_give_a_tokenizer_or_a_seqtk_error(options, batch):
    bpe = result_or_refusal(lambda: BPETokenizer(**options).train(batch))
    if bpe is not None:
        assert len(bpe.tokenize_batch([*batch, "unseen qqq"])) == len(batch) + 1
        assert BPETokenizer.from_dict(bpe.to_dict()).tokenize_batch(batch) == bpe.tokenize_batch(batch)


# Found by fuzzing


@pytest.mark.parametrize(("options", "expected"), [
    ({"min_frequency": -1}, "min_frequency must be an integer >= 0, got -1"),  # was: OverflowError at train()
    ({"min_frequency": 2.5}, "min_frequency must be an integer >= 0, got 2.5"),  # was: TypeError at train()
    ({"unk_token": None}, "unk_token and special_tokens must be strings, got None"),  # was: TypeError at train()
    ({"special_tokens": [3]}, "unk_token and special_tokens must be strings, got '<unk>' and [3]"),
])  # fmt: skip
def test_a_bpe_option_of_the_wrong_kind_is_a_seqtk_error_when_made(options, expected):
    with pytest.raises(SeqtkError, match=re.escape(expected)):
        BPETokenizer(**options)


# ---------------------------------------------------------------------------------------------------------
# seqtk predict --file: one input per line (or per row of --column), in order
# ---------------------------------------------------------------------------------------------------------

line = st.text(st.characters(codec="utf-8", blacklist_characters="\r\n"), max_size=8) | st.sampled_from(
    ["", " ", "\u2028", "a\u2028b", "\x85", "x\x00y", "\ufeff", "\x0c", "café"])


def lines_of(lines: list[str], end: str, final: bool, bom: bool) -> tuple[bytes, list[str]]:
    """The bytes of a file of ``lines`` and the inputs it holds: its lines that are not blank (the docs:
    blank lines are skipped). A U+FEFF opening the file is its byte-order mark; elsewhere it is text."""
    data = (b"\xef\xbb\xbf" if bom else b"") + (end.join(lines) + (end if final else "")).encode()
    first = lines[0] if bom else lines[0].removeprefix("\ufeff")
    return data, [text for text in [first, *lines[1:]] if text.strip()]


@settings(max_examples=150, deadline=None)
@given(st.lists(line, min_size=1, max_size=8), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans())
@example(["", "0"], "\r", False, False)  # was: one input, '\r0'
def test_every_line_is_one_input_in_order(lines, end, final, bom):
    check_lines(lines, end, final, bom)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.lists(line, min_size=1, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans())
def test_every_line_is_one_input_in_order_long(lines, end, final, bom):
    check_lines(lines, end, final, bom)


def check_lines(lines: list[str], end: str, final: bool, bom: bool) -> None:
    data, expected = lines_of(lines, end, final, bom)
    got = result_or_refusal(read_inputs, fresh_file("in.txt", data))
    assert got == (expected or None) or (got is None and b"\x00" in data)  # a NUL may be refused as binary


row_cell = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ["", " ", "a\u2028b", "\x85", "x\x00y", "\ufeff", "a,b", 'q"q', "l1\nl2", "l1\rl2", "l1\r\nl2"])


@settings(max_examples=100, deadline=None)
@given(st.lists(row_cell, min_size=1, max_size=6), st.sampled_from(["csv", "tsv", "jsonl"]),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())  # fmt: skip
def test_every_row_of_a_column_is_one_input_in_order(cells, kind, end, bom):
    data = write_rows(kind, ["n", "text"], [["1", c] for c in cells], end, blank=False)
    got = result_or_refusal(read_inputs, fresh_file(f"in.{kind}", (b"\xef\xbb\xbf" if bom else b"") + data), "text")
    if all(c.strip() for c in cells):
        assert got == cells or (got is None and b"\x00" in data)  # a NUL may be refused as binary
    else:
        assert got is None  # a blank cell is refused by its row


@settings(max_examples=150, deadline=None)
@given(odd_bytes, st.sampled_from([("in.txt", None), ("in.csv", "text"), ("in.tsv", "text"), ("in.jsonl", "text")]))
def test_any_bytes_given_to_predict_file_give_inputs_or_a_seqtk_error(data, file):
    name, column = file
    inputs = result_or_refusal(read_inputs, fresh_file(name, data), column)
    assert inputs is None or (inputs and all(isinstance(text, str) and text.strip() for text in inputs))


# Found by fuzzing


def test_a_file_with_old_mac_line_endings_gives_one_input_per_line(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("first review\rsecond review\r\rthird\u2028still third\r".encode())
    assert read_inputs(path) == ["first review", "second review", "third\u2028still third"]  # was: one input


def test_a_byte_that_is_not_utf8_is_named_by_its_line_in_the_file(tmp_path):
    path = tmp_path / "in.txt"  # was: "byte 4467 of a block", counted from a 64 KiB block of the stream
    path.write_bytes(b"a" * 70_000 + b"\nxy\xe9z\n")
    with pytest.raises(SeqtkError, match=r"is not UTF-8 text: byte 70003 \(line 2, column 3\) is 0xe9"):
        read_inputs(path)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from seqtk.testing import train_recipe

    folder = tmp_path_factory.mktemp("clf")
    rows = [f"{w} {i},{label}" for i in range(40) for label, w in [("time", "clock"), ("rain", "umbrella")]]
    (folder / "q.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return train_recipe(folder, "clf", f'[task]\nname = "classify"\n[data]\npath = "{folder / "q.csv"}"\n'
                        '[train]\nmax_steps = 4\neval_every = 4\nbatch_size = 16\ndevice = "cpu"\n'
                        "[log]\nprogress = false\n")  # fmt: skip


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(line.filter(lambda t: "\x00" not in t), min_size=1, max_size=6),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())  # fmt: skip
def test_predict_file_writes_one_prediction_per_line_in_order(classifier, capsys, lines, end, final):
    from seqtk.cli.main import main

    data, expected = lines_of(lines, end, final, bom=False)
    assume(expected)  # a file of blank lines is refused, as test_every_line_is_one_input_in_order checks
    path = fresh_file("in.txt", data)
    out = path.with_name("preds.jsonl")
    assert main(["predict", str(classifier), "--file", str(path), "--out", str(out)]) == 0, capsys.readouterr().err
    rows = [json.loads(row) for row in out.read_text(encoding="utf-8").split("\n") if row]
    assert [row["input"] for row in rows] == expected and all("label" in row for row in rows)
