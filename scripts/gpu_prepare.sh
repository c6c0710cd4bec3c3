#!/usr/bin/env bash
# Carry what scripts/gpu_bench.py needs to the device tool's GPU machine (Python 3.12 with torch,
# numpy, pluggy, tqdm, PyYAML already there; no network): run here, in the repository root,
#     bash scripts/gpu_prepare.sh [DLE_GIT_DIR]
# then, with the device tool: run(command="bash scripts/gpu_run.sh", carry=[".whl", ".carry"]).
# .whl/ gets the missing dependencies as wheels and the HiFi-GAN plugin built as one; .carry/dle
# gets NVIDIA DeepLearningExamples' Tacotron2 + WaveGlow code from DLE_GIT_DIR (a git directory,
# e.g. the search tool's fetch of github:NVIDIA/DeepLearningExamples), if given, and .carry/golden
# the golden fixtures from ../shared/golden, if there (6.4 MB). None of it is committed
# (.git/info/exclude).
set -euo pipefail
for ignored in /.whl/ /.carry/; do
    grep -qxF "$ignored" .git/info/exclude 2>/dev/null || echo "$ignored" >> .git/info/exclude
done
rm -rf .whl .carry && mkdir -p .whl .carry
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl hydra-core==1.3.2 omegaconf==2.3.0 inflect==7.6.0 typeguard==4.4.4 more-itertools==10.8.0 \
    unidecode==1.4.0 soundfile==0.13.1 cffi==2.0.0 pycparser==2.23
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3 plugins/ttsfw-hifigan
if [ $# -ge 1 ]; then
    mkdir -p .carry/dle
    git --git-dir="$1" archive HEAD PyTorch/SpeechSynthesis/Tacotron2/tacotron2 \
        PyTorch/SpeechSynthesis/Tacotron2/tacotron2_common PyTorch/SpeechSynthesis/Tacotron2/waveglow |
        tar -x -C .carry/dle
fi
[ -d ../shared/golden ] && cp -r ../shared/golden .carry/golden
du -sh .whl .carry
