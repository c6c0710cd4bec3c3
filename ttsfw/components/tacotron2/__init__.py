"""Tacotron2 acoustic model (Shen et al. 2018), weight-compatible with NVIDIA's checkpoints.

model.py (Tacotron2, Tacotron2Config), layers.py (encoder, decoder, postnet), checkpoint.py
(NVIDIA/DLE formats), load.py (load_tacotron2: a file -> a model), factory.py (config node ->
model), plugin.py (hooks), conf/acoustic/.
"""
