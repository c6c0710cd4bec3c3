"""Response audio as it is made: 16-bit PCM in a WAV or FLAC stream, or raw.

A stream's length is not known when its first bytes go out, so a streamed WAV header gives the
RIFF and data sizes as 0xFFFFFFFF and a streamed FLAC's STREAMINFO gives 0 total samples and no
MD5 ("unknown", as the FLAC format allows); `whole_wav` makes an ordinary WAV file.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf

#: response_format -> media type
MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "pcm": "audio/pcm"}
UNKNOWN_SIZE = 0xFFFFFFFF


def pcm16(audio: np.ndarray) -> bytes:
    """float32 (N,) in [-1, 1] -> little-endian int16 bytes, scaled as soundfile writes PCM_16."""
    return np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def wav_header(sample_rate: int, data_bytes: int = UNKNOWN_SIZE) -> bytes:
    """The 44-byte header of a mono 16-bit PCM WAV file."""
    riff = UNKNOWN_SIZE if data_bytes == UNKNOWN_SIZE else 36 + data_bytes
    return (
        struct.pack("<4sI4s", b"RIFF", riff, b"WAVE")
        + struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, sample_rate, 2 * sample_rate, 2, 16)
        + struct.pack("<4sI", b"data", data_bytes)
    )


def whole_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """A complete WAV file of float32 (N,) audio."""
    data = pcm16(audio)
    return wav_header(sample_rate, len(data)) + data


class StreamEncoder:
    """Encodes one response: `encode` each chunk as it comes, then `finish`; each returns the
    bytes to send next."""

    def __init__(self, fmt: str, sample_rate: int):
        self.fmt = fmt
        self.started = False
        self.sample_rate = sample_rate
        if fmt == "flac":
            self.sink = _AppendOnly()
            self.flac = sf.SoundFile(self.sink, "w", sample_rate, 1, "PCM_16", format="FLAC")

    def encode(self, audio: np.ndarray) -> bytes:
        """float32 (N,) -> the bytes that follow (the header first)."""
        if self.fmt == "flac":
            self.flac.write(audio)
            return self.sink.take()
        header = wav_header(self.sample_rate) if self.fmt == "wav" and not self.started else b""
        self.started = True
        return header + pcm16(audio)

    def finish(self) -> bytes:
        """The last bytes of the stream."""
        if self.fmt != "flac":
            return b"" if self.started else self.encode(np.zeros(0, np.float32))
        self.flac.close()  # libsndfile's rewrite of the header is dropped: it has gone out
        return self.sink.take()


class _AppendOnly(io.RawIOBase):
    """A write-only file for libsndfile: the bytes past those taken so far are new; a write
    into the part already taken (a header updated at close) is dropped."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.position = 0
        self.taken = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        end = self.position + len(data)
        if end > self.taken:
            start = max(self.position, self.taken)
            self.data[start - self.taken : end - self.taken] = data[start - self.position :]
        self.position = end
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.taken + len(self.data)}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        return b""

    def take(self) -> bytes:
        """The new bytes, once."""
        out = bytes(self.data)
        self.taken += len(out)
        self.data.clear()
        return out
