"""The teacher voice: Piper `en_US-joe-medium` through onnxruntime (ttsfw.piper.PiperVoice)."""

from ttsfw.piper import SAMPLE_RATE, PiperVoice as PiperTeacher

__all__ = ["SAMPLE_RATE", "PiperTeacher"]
