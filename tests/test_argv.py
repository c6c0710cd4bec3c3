"""Any text a person types reaches the frontend exactly, through the real argv path
(``ttsfw.cli.main`` -> Hydra composition -> the synth job), and misspelled keys say what was meant."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from ttsfw.cli import main
from ttsfw.config import compose_config

TOY = ["frontend=toy", "acoustic=toy", "vocoder=toy", "denoiser=none"]


@pytest.fixture
def speak(toy, monkeypatch, tmp_path):
    """Run ``python -m ttsfw ARGS`` in-process with the toy components; return the texts that
    reached the frontend."""
    heard: list[str] = []
    encode = toy.ToyFrontend.encode

    def recording_encode(self, texts):
        heard.extend(texts)
        return encode(self, texts)

    monkeypatch.setattr(toy.ToyFrontend, "encode", recording_encode)

    def _speak(*args: str) -> list[str]:
        heard.clear()
        main([*args, *TOY, "split=false", f"hydra.run.dir={tmp_path / 'run'}",
              f"hydra.sweep.dir={tmp_path / 'sweep'}"])
        return list(heard)

    return _speak


def written_in_hydra_syntax(text: str) -> bool:
    """The documented exception: a value that starts like Hydra's quoting or sweep functions."""
    return text[:1] in ("'", '"') or re.match(r"^\w+\s*\(", text) is not None


typed_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=typed_text)
def test_any_typed_text_reaches_the_frontend_as_typed(speak, text):
    assume(text.strip() and not written_in_hydra_syntax(text))
    assert speak(f"text={text}") == [text.strip()]  # the job strips the line's outer blanks


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=typed_text)
def test_the_say_form_takes_any_text(speak, text):
    assume(text.strip() and text not in ("-h", "--help", "--"))
    assert speak("say", text) == [text.strip()]


@pytest.mark.parametrize(
    "text",
    ["Hello, world.", "Dr. Smith's cat.", "Wait; then go.", 'She said "no", twice.', "a=b [c] {d} (e)",
     "Cost: ${price} or \\${x}", "Café, naïve — 東京.", '"Quoted," she said.', "'Tis the season.",
     "range(3) is a call", "tab\tand\nnewline"],
)
def test_texts_that_hydra_would_reject_are_spoken_as_typed(speak, text):
    assert speak(f"text={text}") == [text]


@pytest.mark.parametrize("args, heard", [(["-5 degrees."], "-5 degrees."), (["--", "-m"], "-m"),
                                         (["text=x, y", "batch_size=2"], "text=x, y")])
def test_say_takes_its_first_argument_as_the_text(speak, args, heard):
    assert speak("say", *args) == [heard]


def test_hydra_quoting_still_works(speak):
    assert speak('text="Hello, world."') == ["Hello, world."]
    assert speak("text='Say \\'hi\\', then go.'") == ["Say 'hi', then go."]


def test_a_comma_stays_text_in_a_sweep(speak, tmp_path):
    assert speak("-m", "text=Hello, world.", "batch_size=1,2") == ["Hello, world."] * 2
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir()) == ["0", "1"]


def test_a_sweep_over_texts_in_hydra_syntax(speak, tmp_path):
    assert speak("-m", 'text="One, two.","Three."') == ["One, two.", "Three."]
    configs = [json.loads((tmp_path / "sweep" / job / "metrics.json").read_text())["config"]["text"]
               for job in ("0", "1")]
    assert configs == ["One, two.", "Three."]


def test_the_python_api_composes_text_literally():
    cfg, _ = compose_config(["text=Hello, world.", "default_text=a ${b}"])
    assert cfg.text == "Hello, world." and cfg.default_text == "a ${b}"


def one_error_line(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    assert stop.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["vocodr=griffinlim"], "unknown config key or group 'vocodr'; did you mean 'vocoder'?"),
        (["batchsize=2"], "unknown config key or group 'batchsize'; did you mean 'batch_size'?"),
        (["vocoder=griffinlim", "vocoder.n_iterr=3"],
         "unknown config key or group 'vocoder.n_iterr'; did you mean 'vocoder.n_iter'?"),
        (["-m", "batch_sise=1,2"], "unknown config key or group 'batch_sise'; did you mean 'batch_size'?"),
        (["zzzz=1"], "unknown config key or group 'zzzz' (python -m ttsfw --cfg job"),
        (["say"], "say needs the text to speak first"),
        (["-m", "batch_size=1,2", "--cfg", "job"], "--cfg and --info show one job"),
    ],
)
def test_mistakes_are_one_line_with_a_suggestion(capsys, args, expected):
    line = one_error_line(capsys, *args)
    assert line.startswith("ttsfw: error: ") and expected in line, line


def test_a_key_of_one_swept_option_is_known(capsys):
    """vocoder.n_iter exists for griffinlim only: in a sweep that includes it, it is no typo."""
    with pytest.raises(SystemExit):
        main(["-m", "vocoder=waveglow,griffinlim", "vocoder.n_iter=2", "vocodr=x"])
    assert "'vocodr'; did you mean 'vocoder'?" in capsys.readouterr().err


def test_new_keys_can_be_added_with_plus():
    cfg, _ = compose_config(["+my_note=kept"])
    assert cfg.my_note == "kept"
