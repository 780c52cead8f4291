#!/usr/bin/env bash
# The GPU device check, prepared to run on a lent GPU machine in at most 10 minutes:
#   bash scripts/gpu_check.sh [OUT_DIR]      (on the device machine: OUT_DIR=$OUT)
# What it measures (each line of output is also written to OUT_DIR/gpu_check.log):
#   1. doctor: the device, precision `auto` picks (bf16, or fp16 without bf16), and the OpenGL renderer EGL got
#      (the NVIDIA GPU, not Mesa's llvmpipe); then the CUDA feeding test (pinned buffers, own stream, two batches
#      outstanding: features equal to the CPU's within the precision);
#   2. bench encode, ResNet-34 at batch 64 and 256: the encode stage (frames file -> complete store) against the
#      bare forward at its best batch (the bar: at least 0.9);
#   3. bench sample, door, 256 px, 16 workers x 8 envs, double-buffered, ResNet-34 on the GPU: steps/s and the
#      share of each part (the target: 2,000 steps/s); then the same with the synthetic encoder, for comparison
#      with the CPU emulation.
# Rendering goes through MuJoCo's EGL on the GPU (one GPU: MuJoCo picks it; several: workers round-robin).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-reports/gpu_check}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
[ -x .venv/bin/rrl-pipe ] || make setup >"$OUT_DIR/setup.log" 2>&1 || { echo "make setup failed: see $OUT_DIR/setup.log"; exit 1; }
run() {  # one measurement, bounded so that the whole script fits its 10 minutes
    local limit=$1; shift
    echo "\$ $*" | tee -a "$LOG"
    timeout "$limit" "$@" 2>&1 | grep -v -i "warn" | tee -a "$LOG"
}
export MUJOCO_GL=egl
run 60 .venv/bin/rrl-pipe doctor
run 120 .venv/bin/python -m pytest -q -rs tests/service/test_service.py -k "cuda or submit"
run 180 .venv/bin/rrl-pipe bench encode --model resnet34 --batch-size 64 --batch-size 256 --frames 2048 --device cuda
run 200 .venv/bin/rrl-pipe bench sample --model resnet34 --workers 16 --envs-per-worker 8 --double-buffer \
    --episodes 128 --horizon 50 --repeats 1
run 120 .venv/bin/rrl-pipe bench sample --synthetic-encoder 2,0.1 --workers 16 --envs-per-worker 8 --double-buffer \
    --episodes 128 --horizon 50 --repeats 1
echo "written: $LOG"
