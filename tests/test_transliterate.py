"""The ``dle`` transliterator equals DeepLearningExamples' (DLE's): its whole mapping, and the
cases of tests/fixtures/dle_transliterator.json (DLE's answers, recorded by running DLE's code)
through ``transliterate`` and through the frontend's ids."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ttsfw.components.english import transliterate as transliterate_module
from ttsfw.components.english.frontend import EnglishFrontend
from ttsfw.components.english.symbols import SYMBOL_TO_ID
from ttsfw.components.english.transliterate import dle, get_transliterator, transliterate
from ttsfw.errors import ConfigError

FIXTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "dle_transliterator.json").read_text(encoding="utf-8")
)
CASES = [
    pytest.param(text, ascii_text, ids, id=f"{kind}-{index}")
    for kind, cases in FIXTURE["cases"].items()
    for index, (text, ascii_text, ids) in enumerate(cases)
]
SPACE = SYMBOL_TO_ID[" "]

#: what the issue found wrong, and the sequences it asked about
ISSUE_CLASSES = {
    "enclosed_alphanumerics", "roman_numerals", "greek_spacing_accents", "currency_signs",
    "symbol_decompositions", "fullwidth_punctuation", "single_space",
    "combining_marks", "surrogates", "controls",
}


def test_the_whole_mapping_is_the_one_dle_gives():
    """Every code point from U+007F up: what it maps to, hashed as the fixture's oracle run did."""
    lines = "".join(
        f"{code:X}\t{ascii_text}\n"
        for code in range(127, 0x110000)
        if (ascii_text := dle(chr(code))) is not None
    )
    assert hashlib.sha256(lines.encode()).hexdigest() == FIXTURE["mapping_sha256"], (
        "dle's mapping changed (a new Unidecode release, or dle_map.json edited): "
        "check it against DLE's code again"
    )


def test_ascii_is_kept_below_127_and_delete_is_dropped():
    assert all(dle(chr(code)) == chr(code) for code in range(127))
    assert dle("\x7f") is None


@pytest.mark.parametrize(
    "char, ascii_text",
    [
        ("ä", "ae"), ("ẞ", "SS"), ("Ё", "Yo"), ("１", "l"), ("ⓒ", "(b)"),
        ("ъ", ""),  # known, no sound of its own: not reported as unspeakable
        ("ō", None), ("≠", None), ("\u3000", None), ("—", None), ("😀", None),
        ("\ud800", None),
    ],
)
def test_dle_tells_silent_from_unknown(char, ascii_text):
    assert dle(char) == ascii_text


@pytest.mark.parametrize("text, ascii_text, ids", CASES)
def test_fixture_case_transliterates_as_dle(text, ascii_text, ids):
    assert transliterate(text, "dle") == ascii_text


@pytest.mark.parametrize("text, ascii_text, ids", CASES)
def test_fixture_case_encodes_to_dle_ids(text, ascii_text, ids):
    assert EnglishFrontend("dle").text_to_sequence(text) == ids


def test_dropped_characters_leave_one_space_id():
    """DLE drops these before whitespace is collapsed, so one space id is left, never two."""
    frontend = EnglishFrontend("dle")
    for text, _, ids in FIXTURE["cases"]["single_space"]:
        encoded = frontend.text_to_sequence(text)
        assert encoded == ids and (SPACE, SPACE) not in zip(encoded, encoded[1:]), text
    assert frontend.text_to_sequence("a ≠ b") == [SYMBOL_TO_ID[c] for c in "a b"]


def test_fixture_covers_each_class_of_the_issue():
    assert ISSUE_CLASSES <= FIXTURE["cases"].keys()
    assert all(FIXTURE["cases"][kind] for kind in ISSUE_CLASSES)


def test_missing_unidecode_package_is_a_config_error(monkeypatch):
    monkeypatch.setattr(transliterate_module, "_unidecode", None)
    for name in ("dle", "unidecode"):
        message = (
            f"^frontend.transliterator={name} needs the Unidecode package, a dependency of "
            r"ttsfw: pip install 'unidecode~=1.4.0'$"
        )
        with pytest.raises(ConfigError, match=message):
            get_transliterator(name)
