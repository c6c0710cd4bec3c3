"""WaveGlow flow vocoder and its bias denoiser, weight-compatible with NVIDIA's checkpoints.

model.py (WaveGlow, WaveGlowConfig), checkpoint.py (reference layouts <-> inference form),
denoiser.py (WaveGlowDenoiser), factory.py (config nodes -> models, load_waveglow), plugin.py
(hooks), conf/vocoder/ and conf/denoiser/.
"""
