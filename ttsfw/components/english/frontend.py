"""The English frontend: ``english_cleaners`` + the 148-symbol table of NVIDIA's Tacotron2.

Text may embed ARPAbet phonemes in braces: "Turn left on {HH AW1 S S T AH0 N} Street."
Ids equal the reference ``text_to_sequence`` (DLE / NVIDIA/tacotron2), quirks included (an
underscore is encoded as the pad id 0, as there), with these differences:

- nothing is dropped silently: what cannot be spoken is listed by :meth:`unspeakable`,
  reported by :meth:`encode` with an :class:`UnspeakableTextWarning`, or refused with an
  InputError when ``strict`` is set;
- a newline after an ARPAbet group no longer loses the rest of the text (the reference regex
  does not cross newlines); ``reference_quirks=True`` restores that behaviour;
- inputs on which the reference raises (huge numbers, "$,5") are spoken (see ``numbers``).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from ...errors import InputError
from ...registry import BuildContext
from ...stages import Frontend
from .cleaners import normalize_ascii
from .symbols import PAD, SYMBOL_TO_ID, SYMBOLS
from .transliterate import get_transliterator


class UnspeakableTextWarning(UserWarning):
    """Some characters of the text cannot be spoken and are dropped."""


@dataclass
class Encoding:
    """Symbol ids of one text and what of it cannot be spoken (in order of appearance)."""

    ids: list[int] = field(default_factory=list)
    unspeakable: list[str] = field(default_factory=list)

    def drop(self, item: str) -> None:
        if item not in self.unspeakable:
            self.unspeakable.append(item)


def is_silent(char: str) -> bool:
    """Characters nobody expects to hear, so dropping them is not reported: combining marks,
    invisible format characters (zero-width spaces, BOM, ...) and quotation marks."""
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return True
    return "QUOTATION MARK" in unicodedata.name(char, "")


class EnglishFrontend(Frontend):
    """English text -> ids of the NVIDIA Tacotron2 symbol table (see the module doc)."""

    symbols = SYMBOLS

    def __init__(
        self, transliterator: str = "unidecode", strict: bool = False, reference_quirks: bool = False
    ) -> None:
        self.transliterate = get_transliterator(transliterator)
        self.strict = strict
        self.reference_quirks = reference_quirks
        # "(.*?)" text, "{(.+?)}" ARPAbet, "(.*)" the rest; the reference's "." stops at newlines
        self._arpabet_group = re.compile(
            r"(.*?)\{(.+?)\}(.*)", 0 if reference_quirks else re.DOTALL
        )

    def text_to_sequence(self, text: str) -> list[int]:
        """One text -> symbol ids (no padding, no end token), as the reference computes them."""
        return self._encode(text).ids

    def unspeakable(self, text: str) -> list[str]:
        """What of `text` is dropped: characters (and unknown ARPAbet tokens, in braces)."""
        return self._encode(text).unspeakable

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """texts -> ids LongTensor (B, T_in) zero-padded, lengths LongTensor (B,), caller order."""
        sequences = []
        for text in texts:
            encoding = self._encode(text)
            if encoding.unspeakable:
                self._report(text, encoding.unspeakable)
            if not encoding.ids:
                raise InputError(f"text {_preview(text)} has nothing to speak; remove it")
            sequences.append(encoding.ids)
        lengths = torch.tensor([len(ids) for ids in sequences], dtype=torch.long)
        longest = max((len(ids) for ids in sequences), default=0)
        padded = torch.zeros(len(sequences), longest, dtype=torch.long)
        for row, ids in enumerate(sequences):
            padded[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return padded, lengths

    def _report(self, text: str, unspeakable: list[str]) -> None:
        listed = ", ".join(_describe(item) for item in unspeakable)
        if self.strict:
            raise InputError(
                f"text {_preview(text)} has what cannot be spoken: {listed}; write it in words, "
                "or set frontend.strict=false to drop it with a warning"
            )
        warnings.warn(
            f"text {_preview(text)}: dropping what cannot be spoken: {listed}; "
            "write it in words to have it spoken",
            UnspeakableTextWarning,
            stacklevel=3,
        )

    def _encode(self, text: str) -> Encoding:
        encoding = Encoding()
        while text:
            match = self._arpabet_group.match(text)
            if match is None:
                self._encode_plain(text, encoding)
                break
            self._encode_plain(match.group(1), encoding)
            self._encode_arpabet(match.group(2), encoding)
            text = match.group(3)
            if match.end() < len(match.string):  # reference quirk: the rest after "\n" is lost
                encoding.drop(match.string[match.end() :])
        return encoding

    def _encode_plain(self, text: str, encoding: Encoding) -> None:
        ascii_parts = [self.transliterate(char) for char in text]
        cleaned = normalize_ascii("".join(part for part in ascii_parts if part is not None))
        # the reference keeps "_" (the pad symbol, id 0); everything else not in the table goes
        encoding.ids += [SYMBOL_TO_ID[char] for char in cleaned if char in SYMBOL_TO_ID]
        unmapped = {char for char in cleaned if char not in SYMBOL_TO_ID or char == PAD}
        for char, part in zip(text, ascii_parts):
            heard = part is not None and (part == "" or any(c not in unmapped for c in part))
            if not heard and not is_silent(char):
                encoding.drop(char)

    def _encode_arpabet(self, phonemes: str, encoding: Encoding) -> None:
        for phoneme in phonemes.split():
            symbol = f"@{phoneme}"
            if symbol in SYMBOL_TO_ID:
                encoding.ids.append(SYMBOL_TO_ID[symbol])
            else:
                encoding.drop(f"{{{phoneme}}}")


def _preview(text: str, limit: int = 50) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _describe(item: str) -> str:
    """A dropped character as the user can find it: 'é' (U+00E9); longer items as repr."""
    return f"{item!r} (U+{ord(item):04X})" if len(item) == 1 else repr(item)


def build_english_frontend(cfg: Any, context: BuildContext) -> EnglishFrontend:
    """Factory: the ``frontend:`` config node (checked by `EnglishSettings`) -> frontend."""
    return EnglishFrontend(cfg.transliterator, cfg.strict, cfg.reference_quirks)
