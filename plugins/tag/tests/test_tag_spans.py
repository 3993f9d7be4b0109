"""Span precision/recall/F1 as conlleval computes them: a hand-checked example, and agreement with a line-by-line
transcription of conlleval's main loop on random tag sequences."""

from __future__ import annotations

import random

import pytest

from seqtk.errors import SeqtkError
from seqtk_plugins.tag.metrics import TagCounts
from seqtk_plugins.tag.spans import SpanCounts, chunk_ends, chunk_starts, chunks, detect_scheme, resolve_scheme, split_tag


def test_hand_checked_example():
    """Two sentences, worked out by hand with conlleval's rules.

    Sentence 1  gold: PER(0-1) LOC(3-4) ORG(6)      predicted: PER(0-1) LOC(3-4) PER(6)
                (the predicted I-LOC after O starts a chunk, so LOC(3-4) is correct; ORG/PER is a type error)
    Sentence 2  gold: MISC(1-3)                      predicted: MISC(1-2) MISC(3) (B- splits it: both wrong)
    gold 4 chunks, predicted 5, correct 2: precision 2/5, recall 2/4, F1 4/9; tokens 8 of 11 right.
    """
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG"], ["O", "B-MISC", "I-MISC", "I-MISC"]]
    pred = [["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "O", "B-PER"], ["O", "B-MISC", "I-MISC", "B-MISC"]]
    counts = TagCounts([], [], "bio")
    for g, p in zip(gold, pred):
        counts.add_sentence(g, p)
    metrics = counts.metrics()
    assert (counts.spans.correct, counts.spans.predicted, counts.spans.gold) == (2, 5, 4)
    assert metrics["span_precision"] == pytest.approx(0.4)
    assert metrics["span_recall"] == pytest.approx(0.5)
    assert metrics["span_f1"] == pytest.approx(4 / 9)
    assert metrics["token_accuracy"] == pytest.approx(8 / 11)


def test_i_after_o_and_type_changes_start_chunks():
    assert chunks(["O", "I-NP", "I-NP", "O"]) == [(1, 2, "NP")]  # IOB1: I- after O starts a chunk
    assert chunks(["I-NP", "I-VP", "B-VP"]) == [(0, 0, "NP"), (1, 1, "VP"), (2, 2, "VP")]
    assert chunks(["B-X", "E-X", "S-X", "S-X", "B-X", "I-X", "E-X"]) == [(0, 1, "X"), (2, 2, "X"), (3, 3, "X"), (4, 6, "X")]
    assert chunks(["O", "O"]) == [] and chunks(["I-ORG-X"]) == [(0, 0, "ORG-X")]  # types may hold hyphens


def conlleval_counts(sentences: list[tuple[list[str], list[str]]]) -> tuple[int, int, int, int, int]:
    """conlleval.pl's main loop, transcribed statement by statement (sentence breaks are ``O`` boundary lines).

    Returns (correctChunk, foundGuessed, foundCorrect, correctTags, tokenCounter).
    """
    correct_chunk = found_guessed = found_correct = correct_tags = token_counter = 0
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    lines = []
    for gold, pred in sentences:
        lines += [(False, g, p) for g, p in zip(gold, pred)] + [(True, "O", "O")]
    for boundary, gold_tag, guess_tag in lines:
        correct, correct_type = split_tag(gold_tag)
        guessed, guessed_type = split_tag(guess_tag)
        if boundary:
            guessed = "O"
        if in_correct:
            ce = chunk_ends(last_correct, last_correct_type, correct, correct_type)
            ge = chunk_ends(last_guessed, last_guessed_type, guessed, guessed_type)
            if ce and ge and last_guessed_type == last_correct_type:
                in_correct = False
                correct_chunk += 1
            elif ce != ge or guessed_type != correct_type:
                in_correct = False
        cs = chunk_starts(last_correct, last_correct_type, correct, correct_type)
        gs = chunk_starts(last_guessed, last_guessed_type, guessed, guessed_type)
        if cs and gs and guessed_type == correct_type:
            in_correct = True
        found_correct += cs
        found_guessed += gs
        if not boundary:
            correct_tags += correct == guessed and guessed_type == correct_type
            token_counter += 1
        last_guessed, last_correct, last_guessed_type, last_correct_type = guessed, correct, guessed_type, correct_type
    if in_correct:
        correct_chunk += 1
    return correct_chunk, found_guessed, found_correct, correct_tags, token_counter


@pytest.mark.parametrize("tagset", [["O", "B-A", "I-A", "B-B", "I-B"], ["O", "I-A", "I-B", "B-A"],
                                    ["O", "B-A", "I-A", "E-A", "S-A", "S-B", "E-B"]])  # fmt: skip
def test_agrees_with_conllevals_streaming_loop_on_random_sequences(tagset):
    rng = random.Random(len(tagset))
    for _ in range(200):
        sentences = []
        for _ in range(rng.randint(1, 4)):
            n = rng.randint(1, 8)
            gold = [rng.choice(tagset) for _ in range(n)]
            pred = [t if rng.random() < 0.6 else rng.choice(tagset) for t in gold]
            sentences.append((gold, pred))
        spans, tokens = SpanCounts(), 0
        correct_tags = 0
        for gold, pred in sentences:
            spans.add(gold, pred)
            correct_tags += sum(g == p for g, p in zip(gold, pred))
            tokens += len(gold)
        assert (spans.correct, spans.predicted, spans.gold, correct_tags, tokens) == conlleval_counts(sentences)


def test_scheme_detection_and_checks():
    assert detect_scheme(["O", "I-NP", "I-VP"]) == "iob1"
    assert detect_scheme(["O", "B-NP", "I-NP", "E-NP"]) == "bioes"
    assert detect_scheme(["O"]) == "none" and detect_scheme(["nn", "B-X"]) == "none"
    assert resolve_scheme("none", ["O", "B-X"]) == "none"
    with pytest.raises(SeqtkError, match="has the tag 'NOUN'.*data.scheme = \"auto\""):
        resolve_scheme("bio", ["B-X", "NOUN"])


def test_no_chunks_gives_zero_scores_as_conlleval_prints():
    counts = SpanCounts()
    counts.add(["O", "O"], ["O", "O"])
    assert counts.metrics() == {"span_precision": 0.0, "span_recall": 0.0, "span_f1": 0.0}
