"""Cutting long text into pieces the acoustic model can speak: sentences, then clauses.

    split_sentences("Hi there. How are you?")  ->  ["Hi there.", "How are you?"]

A sentence longer than `max_chars` is cut at clause boundaries (, ; : dashes), a clause still
too long at spaces, and a word still too long into `max_chars` slices. A piece cut so that it
ends without punctuation gets a full stop ("... to select as" -> "... to select as."): acoustic
models are trained on punctuated sentences, and one may never stop after a bare word. Nothing
is dropped: joining the pieces with spaces gives the text back, up to whitespace and those
full stops.
"""

from __future__ import annotations

import re

#: a sentence ends at . ! ? … (and closing quotes or brackets) followed by whitespace
SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’»)\]]*\s+")
#: a clause ends at , ; : or a dash (and closing quotes or brackets) followed by whitespace
CLAUSE_END = re.compile(r"(?:[,;:—–]+[\"'”’»)\]]*|\s[-—–]+)\s+")
WORD_END = re.compile(r"\s+")
#: a piece ends in a letter or digit (and closing quotes or brackets): no punctuation at its end
BARE_END = re.compile(r"\w[\"'”’»)\]]*$")
#: words whose final "." does not end a sentence (compared lower-case, without the dot)
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e no gen col lt sgt capt rev hon fig approx".split()
)


def split_sentences(text: str, max_chars: int = 250) -> list[str]:
    """text -> its sentences, none longer than `max_chars` (long ones cut at clauses)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    sentences = _merge_abbreviations(_cut(text, SENTENCE_END))
    return [piece for sentence in sentences for piece in split_long(sentence, max_chars)]


def split_long(sentence: str, max_chars: int) -> list[str]:
    """One sentence -> pieces of at most `max_chars`, cut at clauses, else spaces, else
    anywhere; a piece without final punctuation gets a full stop (where it fits)."""
    if len(sentence) <= max_chars:
        return [sentence] if sentence else []
    room = max(1, max_chars - 1)  # for the full stop
    pieces: list[str] = []
    for clause in _pack(_cut(sentence, CLAUSE_END), room):
        for chunk in _pack(_cut(clause, WORD_END), room) if len(clause) > room else [clause]:
            pieces += [chunk[i : i + room] for i in range(0, len(chunk), room)]
    return [end_with_stop(piece, max_chars) for piece in pieces]


def end_with_stop(piece: str, max_chars: int | None = None) -> str:
    """`piece` with a full stop after a final letter or digit (if it stays within `max_chars`)."""
    fits = max_chars is None or len(piece) < max_chars
    return f"{piece}." if fits and BARE_END.search(piece) else piece


def halve(piece: str) -> list[str]:
    """Cut a piece in two at the clause boundary (else the space) nearest its middle, each half
    ending in punctuation (`end_with_stop`); [piece] when it is a single word."""
    text = piece.strip()
    for pattern in (CLAUSE_END, WORD_END):
        cuts = [m.end() for m in pattern.finditer(text)]
        if cuts:
            middle = min(cuts, key=lambda cut: abs(cut - len(text) / 2))
            return [end_with_stop(text[:middle].strip()), end_with_stop(text[middle:].strip())]
    return [text]


def _cut(text: str, boundary: re.Pattern) -> list[str]:
    """Split after every match of `boundary`; pieces are stripped, empty ones dropped."""
    pieces, start = [], 0
    for match in boundary.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def _ends_with_abbreviation(sentence: str) -> bool:
    last = sentence.rsplit(None, 1)[-1].lower().rstrip(".")
    return sentence.endswith(".") and last in ABBREVIATIONS


def _merge_abbreviations(sentences: list[str]) -> list[str]:
    """Glue a sentence that ends in an abbreviation ("Dr.") to the one after it."""
    merged: list[str] = []
    for sentence in sentences:
        if merged and _ends_with_abbreviation(merged[-1]):
            merged[-1] = f"{merged[-1]} {sentence}"
        else:
            merged.append(sentence)
    return merged


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Join consecutive parts with spaces while the result fits in `max_chars`."""
    packed: list[str] = []
    for part in parts:
        if packed and len(packed[-1]) + 1 + len(part) <= max_chars:
            packed[-1] = f"{packed[-1]} {part}"
        else:
            packed.append(part)
    return packed
