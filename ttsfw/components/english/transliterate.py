"""Transliteration to ASCII, the first step of ``english_cleaners``.

Two transliterators, chosen with ``frontend.transliterator``:

- ``unidecode``: the Unidecode package, as in NVIDIA/tacotron2 and in DeepLearningExamples
  (DLE) until 2021-11, i.e. what the published checkpoints were trained with.
- ``dle``: DLE's own transliterator (DLE after 2021-11), exactly: ASCII below 127 is kept,
  the characters of its transliteration and look-alike (homoglyph) tables are replaced, and
  every other character is dropped. That drops most of Unicode: many accented letters
  ("ō", "ĉ", pinyin "ǎ"; Vietnamese ones lose the accent), symbols ("≠", "©", "—", "…"),
  the digits of most scripts, some full-width punctuation ("～", "＂"), CJK and emoji; and
  it reads some characters as look-alikes ("１" and "Ⅰ" as "l", "ⓒ" as "(b)"). The mapping
  is data, ``dle_map.json``: ranges of code points on which DLE gives Unidecode's answer
  (Unidecode 1.4, as pinned), and a table of every other character it maps, by ASCII. It
  was derived from DLE's code run on every code point; tests/test_transliterate.py checks
  the whole mapping against that run (a hash) and DLE's answers on a fixture of cases.
  Both map character by character, so they agree on any text.

A transliterator maps one character to ASCII text: ``""`` when the character is known to
have no sound of its own (e.g. the Cyrillic soft sign), ``None`` when it cannot map it.
Both read Unidecode's tables, a dependency of ttsfw.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Callable

from ...errors import ConfigError

try:
    from unidecode import unidecode as _unidecode
except ImportError:  # reported by get_transliterator
    _unidecode = None

CharMap = Callable[[str], "str | None"]

_DLE_MAP = Path(__file__).with_name("dle_map.json")


@functools.cache
def _dle_table() -> dict[str, str]:
    """Every character from U+007F up that DLE maps -> its ASCII (read from ``dle_map.json``)."""
    data = json.loads(_DLE_MAP.read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for span in data["unidecode"].split():  # "00C0-00F5" or "00A0"
        first, _, last = span.partition("-")
        for code in range(int(first, 16), int(last or first, 16) + 1):
            table[chr(code)] = _unidecode(chr(code))
    for ascii_text, chars in data["table"].items():
        table.update(dict.fromkeys(chars, ascii_text))
    return table


def dle(char: str) -> str | None:
    """One character -> ASCII exactly as DLE's transliterator (see the module doc)."""
    return char if ord(char) < 127 else _dle_table().get(char)


def unidecode(char: str) -> str | None:
    """One character -> ASCII with the Unidecode package (which has no "known to be silent":
    it gives "" or, with errors="preserve", the character itself when it cannot map it)."""
    if char.isascii():
        return char
    ascii_text = _unidecode(char, errors="preserve")
    return None if ascii_text in ("", char) else ascii_text


TRANSLITERATORS: dict[str, CharMap] = {"dle": dle, "unidecode": unidecode}


def get_transliterator(name: str) -> CharMap:
    """The per-character transliterator called `name` (a ConfigError if there is none)."""
    if name not in TRANSLITERATORS:
        raise ConfigError(
            f"unknown frontend.transliterator '{name}'; choose one of: {', '.join(TRANSLITERATORS)}"
        )
    if _unidecode is None:
        raise ConfigError(
            f"frontend.transliterator={name} needs the Unidecode package, a dependency of "
            "ttsfw: pip install 'unidecode~=1.4.0'"
        )
    return TRANSLITERATORS[name]


def transliterate(text: str, name: str) -> str:
    """`text` -> ASCII with the transliterator called `name`; unmappable characters dropped."""
    char_map = get_transliterator(name)
    return "".join(ascii_text for char in text if (ascii_text := char_map(char)) is not None)
