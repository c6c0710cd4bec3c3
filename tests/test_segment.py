"""Sentence and clause splitting for long-form text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from ttsfw.segment import end_with_stop, halve, split_long, split_sentences


def test_sentences_end_at_terminal_punctuation():
    text = 'Hello there. Dr. Smith said "hi!" Then he left... Did he?  Yes'
    assert split_sentences(text) == [
        "Hello there.",
        'Dr. Smith said "hi!"',
        "Then he left...",
        "Did he?",
        "Yes",
    ]


def test_no_split_inside_numbers_or_without_following_space():
    assert split_sentences("It costs 3.50 dollars.It is e.g. cheap.") == [
        "It costs 3.50 dollars.It is e.g. cheap."
    ]


def test_over_long_sentence_is_cut_at_clauses_then_spaces_then_anywhere():
    """Cut pieces leave room for the full stop that a piece ending in a bare word gets."""
    sentence = "first clause here, second clause here; third clause: and a fourth one"
    assert split_long(sentence, 40) == [
        "first clause here, second clause here;",
        "third clause: and a fourth one.",
    ]
    assert split_long("one two three four five six", 11) == ["one two.", "three four.", "five six."]
    assert split_long("x" * 25, 10) == ["x" * 9 + "."] * 2 + ["x" * 7 + "."]
    assert split_long("x" * 3, 1) == ["x"] * 3  # no room for a stop


def test_a_fragment_the_splitter_makes_ends_in_punctuation():
    """LJ050-0161-like: a clause cut at a space left a fragment ending in a bare word, which
    the shipped voice never stopped after; quotes and brackets stay outside the stop."""
    text = (
        "and this particular official took excellent care to select as residents for his "
        "own ward those most suitable from his own point of view."
    )
    pieces = split_sentences(text, 70)
    assert pieces[0] == "and this particular official took excellent care to select as."
    assert all(piece[-1] in ".,;:!?" for piece in pieces)
    assert end_with_stop('he said "wait"') == 'he said "wait".'
    assert end_with_stop("wait,") == "wait," and end_with_stop("(wait)") == "(wait)."


def test_halve_cuts_near_the_middle():
    assert halve("one two, three four five") == ["one two,", "three four five."]
    assert halve("alpha beta gamma delta") == ["alpha beta.", "gamma delta."]
    assert halve("  word ") == ["word"]


def test_bad_max_chars():
    with pytest.raises(ValueError, match="max_chars must be at least 1, got 0"):
        split_sentences("Hi.", 0)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(1, 80))
def test_pieces_keep_every_word_and_respect_the_limit(text, max_chars):
    pieces = split_sentences(text, max_chars)
    assert all(0 < len(piece) <= max_chars and piece == piece.strip() for piece in pieces)
    # the text comes back, up to whitespace and the full stops added after cut pieces
    assert "".join("".join(pieces).split()).replace(".", "") == "".join(text.split()).replace(".", "")
