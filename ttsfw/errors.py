"""User-facing errors: the CLI prints their message as one line, without a traceback."""


class TTSError(Exception):
    """An error whose message tells the user what is wrong and what to do."""


class ConfigError(TTSError):
    """A configuration value or component choice is invalid."""


class CheckpointError(TTSError):
    """A checkpoint file is missing, unreadable or of the wrong kind."""


class LegacyCheckpointError(CheckpointError):
    """A checkpoint holds pickled Python objects (e.g. NVIDIA/waveglow's whole-model files), which
    ttsfw does not unpickle unless told to trust it; the message says how to convert it."""


class InputError(TTSError):
    """The text input is missing, empty or unreadable."""


class SynthesisError(TTSError):
    """A text could not be spoken (the acoustic model made no frames, NaN or Inf, a model failed)."""


class DeviceError(TTSError):
    """The requested device backend is unknown or unavailable."""


class PluginError(TTSError):
    """A plugin failed to load or misuses the hooks."""
