"""WaveGlow flow vocoder and its bias denoiser, weight-compatible with NVIDIA's checkpoints.

model.py (WaveGlow, WaveGlowConfig), checkpoint.py (reference layouts <-> inference form),
denoiser.py (WaveGlowDenoiser), load.py (load_waveglow: a file -> a model), factory.py (config
nodes -> models), plugin.py (hooks), conf/vocoder/ and conf/denoiser/.
"""
