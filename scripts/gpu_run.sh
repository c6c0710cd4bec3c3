#!/usr/bin/env bash
# The device tool's command for scripts/gpu_bench.py (after scripts/gpu_prepare.sh here):
#     run(command="bash scripts/gpu_run.sh", carry=[".whl", ".carry"], timeout_s=540)
# Installs the carried wheels beside the machine's own torch, then runs the check and benchmark;
# the figures come back as $OUT/gpu_bench.{json,md} and the log as $OUT/log.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
carried=()
[ -d .carry/golden ] && carried+=(--golden .carry/golden)
[ -d .carry/dle ] && carried+=(--dle .carry/dle/PyTorch/SpeechSynthesis/Tacotron2)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/log"
python3 scripts/gpu_bench.py --out "$OUT" "${carried[@]}" 2>&1 | tee -a "$OUT/log"
