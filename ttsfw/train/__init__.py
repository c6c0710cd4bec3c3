"""Training Tacotron2 on your own data: ``python -m ttsfw.train filelist=train.txt ...``.

data: NVIDIA filelists, mel cache, length-bucketed batches; teacher_forcing: the training-time
forward; losses: mel, gate and guided-attention losses; trainer: the loop with exact resume;
export: a compact fp16 checkpoint for shipping; postfilter: the learned mel postfilter of a
voice, trained adversarially (``python -m ttsfw.train.postfilter``).
"""
