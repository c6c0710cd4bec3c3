"""English frontend: golden parity with the reference text_to_sequence (both transliterators),
the newline fix and its quirk mode, unspeakable-text reporting, encode's batch contract."""

from __future__ import annotations

import json
import warnings
from importlib.metadata import version

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from conftest import TOY
from ttsfw import Pipeline
from ttsfw.config import compose_config
from ttsfw.errors import ConfigError, InputError, SynthesisError
from ttsfw.plugins import get_registry
from ttsfw.registry import BuildContext
from ttsfw.components.english.cleaners import english_cleaners
from ttsfw.components.english.frontend import EnglishFrontend, UnspeakableTextWarning
from ttsfw.components.english.symbols import SYMBOL_TO_ID, SYMBOLS, sequence_to_text

TRANSLITERATORS = ["dle", "unidecode"]
QUIRK = "newline_with_arpabet_braces"


def spoken(frontend: EnglishFrontend, text: str) -> str:
    return sequence_to_text(frontend.text_to_sequence(text))


def golden_cases(golden, transliterator: str) -> list[dict]:
    with open(golden / "frontend" / "cases.jsonl", encoding="utf-8") as file:
        cases = [json.loads(line) for line in file]
    return [case for case in cases if case["transliterator"] == transliterator]


# --- symbol table ------------------------------------------------------------------------


def test_symbol_table_has_nvidia_order():
    assert len(SYMBOLS) == 148
    assert SYMBOLS[:12] == ("_", "-", "!", "'", "(", ")", ",", ".", ":", ";", "?", " ")
    assert (SYMBOL_TO_ID["A"], SYMBOL_TO_ID["a"], SYMBOL_TO_ID["z"]) == (12, 38, 63)
    assert (SYMBOL_TO_ID["@AA"], SYMBOL_TO_ID["@HH"], SYMBOL_TO_ID["@ZH"]) == (64, 106, 147)


def test_sequence_to_text_rewraps_arpabet():
    ids = EnglishFrontend().text_to_sequence("Say {HH AH0 L OW1}{W ER1 L D}!")
    assert sequence_to_text(ids) == "say {HH AH0 L OW1 W ER1 L D}!"


# --- golden parity -----------------------------------------------------------------------


def test_golden_fixture_versions_are_installed(golden):
    """The golden ids depend on inflect's wording (and Unidecode's tables): pin these."""
    versions = json.loads((golden / "frontend" / "VERSIONS.json").read_text())
    installed = {"inflect": version("inflect"), "Unidecode": version("unidecode")}
    assert installed == {key: versions[key] for key in installed}, (
        f"golden frontend ids are for {versions['inflect']=} {versions['Unidecode']=}"
    )


@pytest.mark.parametrize("transliterator", TRANSLITERATORS)
def test_every_golden_case(golden, transliterator):
    cases = golden_cases(golden, transliterator)
    assert len(cases) == 78
    fixed = EnglishFrontend(transliterator)
    quirks = EnglishFrontend(transliterator, reference_quirks=True)
    for case in cases:
        ids = quirks.text_to_sequence(case["text"])
        assert ids == case["sequence"], case["text"]
        assert sequence_to_text(ids) == case["decoded"]
        if case.get("quirk") != QUIRK:
            assert fixed.text_to_sequence(case["text"]) == case["sequence"], case["text"]


@pytest.mark.parametrize("transliterator", TRANSLITERATORS)
def test_newline_after_arpabet_keeps_the_rest_by_default(golden, transliterator):
    [case] = [c for c in golden_cases(golden, transliterator) if c.get("quirk") == QUIRK]
    assert case["text"] == "say {HH AH0 L OW1}\nnext line"
    fixed = EnglishFrontend(transliterator).text_to_sequence(case["text"])
    assert fixed[: len(case["sequence"])] == case["sequence"]
    assert sequence_to_text(fixed) == "say {HH AH0 L OW1} next line"


def test_newline_before_arpabet_keeps_the_braces_by_default():
    text = "first line\nsay {HH AH0}."
    assert spoken(EnglishFrontend(), text) == "first line say {HH AH0}."
    # the reference regex cannot start a match across the newline: braces become plain text
    assert spoken(EnglishFrontend(reference_quirks=True), text) == "first line say hh ahzero."


def test_quirk_mode_reports_the_lost_line():
    frontend = EnglishFrontend(reference_quirks=True)
    assert frontend.unspeakable("say {HH AH0 L OW1}\nnext line") == ["\nnext line"]


@pytest.mark.parametrize("transliterator", TRANSLITERATORS)
def test_numbers_too_big_for_inflect_are_read_digit_by_digit(golden, transliterator):
    lines = (golden / "frontend" / "reference_errors.jsonl").read_text(encoding="utf-8").splitlines()
    [case] = [json.loads(line) for line in lines if json.loads(line)["transliterator"] == transliterator]
    assert case["error"] == "NumOutOfRangeError"  # the reference crashes on it
    frontend = EnglishFrontend(transliterator)
    assert spoken(frontend, case["text"]) == "too big for inflect: one" + " zero" * 36
    assert spoken(frontend, "the 1" + "0" * 36 + "th") == "the one" + " zero" * 35 + " zeroth"
    assert spoken(frontend, "$" + "2" * 5000).startswith("two two two")  # past int()'s limit


def test_stray_commas_in_dollar_amounts_do_not_crash():
    """The reference raises ValueError from int(",5") on these."""
    assert english_cleaners("$,5 and $1,.5") == "five dollars and one dollar, five cents"


def test_english_cleaners():
    text = "Dr. Smith paid $3.50 on Jan 1st, 1998 at 10:30."
    expected = (
        "doctor smith paid three dollars, fifty cents on jan first, nineteen ninety-eight at ten:thirty."
    )
    assert english_cleaners(text, "dle") == english_cleaners(text, "unidecode") == expected


# --- unspeakable text --------------------------------------------------------------------


def test_unspeakable_lists_dropped_characters_and_arpabet_tokens():
    frontend = EnglishFrontend("dle")
    assert frontend.unspeakable("© 2024 — “Acme” {HH XX} & co…") == ["©", "—", "{XX}", "&", "…"]
    assert frontend.unspeakable("Dr. Smith paid $3.50.") == []
    # the transliterator matters: Unidecode speaks "(c)", "--" and "..."
    assert EnglishFrontend("unidecode").unspeakable("© 2024 — “Acme” & co…") == ["&"]


def test_silent_characters_are_not_reported():
    """Quotation marks, combining accents and invisible format characters carry no sound."""
    frontend = EnglishFrontend("dle")
    assert frontend.unspeakable('"Quoted" «words» with cafe\u0301 and zero\u200bwidth\ufeff') == []


def test_dollar_sign_is_reported_only_where_it_is_not_read():
    frontend = EnglishFrontend()
    assert frontend.unspeakable("$5 and $3.50") == []
    assert frontend.unspeakable("$5 and $ 5") == ["$"]


def test_underscore_is_encoded_as_the_pad_id_like_the_reference_but_reported():
    frontend = EnglishFrontend()
    assert frontend.text_to_sequence("a_b") == [38, 0, 39]
    assert frontend.unspeakable("a_b") == ["_"]


def test_encode_warns_about_unspeakable_text():
    frontend = EnglishFrontend("dle")
    with pytest.warns(UnspeakableTextWarning) as record:
        frontend.encode(["Fine.", "Price 5€ ©Acme"])
    [warning] = record
    assert str(warning.message) == (
        "text 'Price 5€ ©Acme': dropping what cannot be spoken: '©' (U+00A9); "
        "write it in words to have it spoken"
    )


def test_encode_is_quiet_for_speakable_text():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EnglishFrontend("dle").encode(['He said: "It costs $5, Dr. Who’s café."'])


def test_strict_mode_refuses_unspeakable_text():
    frontend = EnglishFrontend("dle", strict=True)
    with pytest.raises(InputError) as error:
        frontend.encode(["Fine.", "Emoji 😀 and {hh} tokens"])
    assert str(error.value) == (
        "text 'Emoji 😀 and {hh} tokens' has what cannot be spoken: '😀' (U+1F600), "
        "'{hh}'; write it in words, or set frontend.strict=false to drop it with a warning"
    )
    assert frontend.encode(["Fine."])[1].tolist() == [5]


def test_text_with_nothing_to_speak_is_an_input_error():
    with pytest.raises(InputError, match=r"^text '' has nothing to speak; remove it$"):
        EnglishFrontend().encode(["Fine.", ""])


# --- encode contract ---------------------------------------------------------------------


def test_encode_pads_with_zeros_in_caller_order():
    frontend = EnglishFrontend()
    texts = ["Mid size.", "A much longer sentence here.", "Hi"]
    ids, lengths = frontend.encode(texts)
    sequences = [frontend.text_to_sequence(text) for text in texts]
    assert ids.dtype == lengths.dtype == torch.long
    assert ids.shape == (3, 28)
    assert lengths.tolist() == [len(s) for s in sequences] == [9, 28, 2]
    for row, sequence in enumerate(sequences):
        assert ids[row, : len(sequence)].tolist() == sequence
        assert not ids[row, len(sequence) :].any()


def test_encode_of_no_texts_is_empty():
    ids, lengths = EnglishFrontend().encode([])
    assert ids.shape == (0, 0) and lengths.shape == (0,)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=40), transliterator=st.sampled_from(TRANSLITERATORS))
def test_any_text_encodes_without_crashing(text, transliterator):
    frontend = EnglishFrontend(transliterator)
    ids = frontend.text_to_sequence(text)
    assert all(0 <= index < len(SYMBOLS) for index in ids)
    assert all(len(item) > 1 or item in text for item in frontend.unspeakable(text))


# --- configuration and wiring ------------------------------------------------------------


def build(**options):
    """The english frontend as its config file composes it, with `options` changed."""
    cfg = OmegaConf.create({**OmegaConf.to_container(compose_config(["frontend=english"])[0].frontend), **options})  # the schema checks it
    return get_registry().build("frontend", cfg, BuildContext())


def test_registered_factory_reads_the_config():
    frontend = build(transliterator="dle", strict=True, reference_quirks=True)
    assert isinstance(frontend, EnglishFrontend)
    assert frontend.strict and frontend.reference_quirks
    assert frontend.text_to_sequence("£5") == EnglishFrontend("dle").text_to_sequence("£5")


def test_bad_options_are_config_errors():
    unknown = r"^unknown frontend.transliterator 'ascii'; choose one of: dle, unidecode$"
    with pytest.raises(ConfigError, match=unknown):
        build(transliterator="ascii")
    with pytest.raises(ConfigError, match=r"^frontend.strict: Value 'maybe' is not a valid bool \(type str\)$"):
        build(strict="maybe")


def test_pipeline_speaks_through_the_english_frontend(toy):
    overrides = [*TOY, "frontend=english"]
    tts = Pipeline.from_overrides(overrides)
    assert tts.cfg.frontend == {
        "name": "english", "transliterator": "unidecode", "strict": False, "reference_quirks": False
    }
    texts = ["Dr. Smith paid $3.50.", "{HH AH0 L OW1}"]
    result = tts.synthesize(texts)
    lengths = [len(EnglishFrontend().text_to_sequence(text)) for text in texts]
    assert lengths == [45, 4]  # "doctor smith paid three dollars, fifty cents."
    assert [len(audio) for audio in result.audio] == [n * 2 * 256 for n in lengths]  # toy: 2 frames/id
    with pytest.raises(SynthesisError, match="text 1 cannot be spoken: .* has what cannot be spoken: '😀'"):
        Pipeline.from_overrides([*overrides, "frontend.strict=true"]).synthesize(["Hi 😀"])
