"""Signal processing: STFT, mel extraction."""
