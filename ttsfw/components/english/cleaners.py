"""``english_cleaners``: NVIDIA's text normalisation for English Tacotron2 models.

Steps, in the reference order: transliterate to ASCII, lowercase, spell out numbers, expand
abbreviations, collapse whitespace (to single spaces; leading and trailing ones are kept).
"""

from __future__ import annotations

import re

from .numbers import normalize_numbers
from .transliterate import transliterate

#: "<abbreviation>." -> word, applied in this order (each needs the period: "dr smith" stays)
_ABBREVIATIONS = [
    (re.compile(rf"\b{abbreviation}\.", re.IGNORECASE), word)
    for abbreviation, word in [
        ("mrs", "misess"),
        ("mr", "mister"),
        ("dr", "doctor"),
        ("st", "saint"),
        ("co", "company"),
        ("jr", "junior"),
        ("maj", "major"),
        ("gen", "general"),
        ("drs", "doctors"),
        ("rev", "reverend"),
        ("lt", "lieutenant"),
        ("hon", "honorable"),
        ("sgt", "sergeant"),
        ("capt", "captain"),
        ("esq", "esquire"),
        ("ltd", "limited"),
        ("col", "colonel"),
        ("ft", "fort"),
    ]
]

_WHITESPACE = re.compile(r"\s+")


def expand_abbreviations(text: str) -> str:
    for pattern, word in _ABBREVIATIONS:
        text = pattern.sub(word, text)
    return text


def normalize_ascii(text: str) -> str:
    """``english_cleaners`` after transliteration: lowercase, numbers, abbreviations, spaces."""
    text = normalize_numbers(text.lower())
    return _WHITESPACE.sub(" ", expand_abbreviations(text))


def english_cleaners(text: str, transliterator: str = "unidecode") -> str:
    """Any text -> the normalised ASCII text the symbol table encodes."""
    return normalize_ascii(transliterate(text, transliterator))
