#!/usr/bin/env bash
# A GPU session's measurements for mixed precision and throughput, on the accelerator machine
# (Python 3.12, torch 2.11 preinstalled, no network).  Prepare and carry first, on this machine:
#
#   bash tools/benchmarks/prepare_gpu_carry.sh        # .whl/ and work_dirs/gpu_data/ (~45 MiB)
#
# then run the stages, carrying [".whl", "work_dirs/gpu_data"].  One device command may run 10
# minutes, so the work is split into stages; a stage already done on a warm machine is skipped:
#
#   bash tools/benchmarks/gpu_session.sh setup amp     # mmcv CUDA build (~4 min), AMP tests (~2 min)
#   bash tools/benchmarks/gpu_session.sh bench         # batches 64/128 x tf32/bf16/fp16 x poolings
#   bash tools/benchmarks/gpu_session.sh levers        # each lever on/off at batch 128, bf16
#                                                      # (+ SGD for LARS, pageable for pinned)
#
# Each stage re-runs `setup` when the machine is fresh (it is idempotent).  Results and logs go to
# $OUT (the device tool brings them back), or work_dirs/gpu_out outside it.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/work_dirs/gpu_out}"
SITE="$ROOT/work_dirs/gpu_site"       # git-ignored; kept between calls on a warm machine
PY="${PY:-python3}"
WORKERS="${WORKERS:-14}"              # DataLoader workers (16 cores: 2 left for the main process)
mkdir -p "$OUT" "$SITE"
export PYTHONPATH="$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
log() { echo "== $(date -u +%H:%M:%S) $*"; }
die() { echo "gpu_session: $*" >&2; exit 1; }

stack_ok() {
  "$PY" - >/dev/null 2>&1 <<'EOF'
import torch
from mmcv.ops import RoIAlign
import mmdet, mmselfsup, mmsoco  # noqa
x = torch.randn(1, 8, 16, 16, device='cuda')
rois = torch.tensor([[0, 1, 1, 9, 9.]], device='cuda')
assert RoIAlign(7, 1.0, 0, aligned=True)(x, rois).shape == (1, 8, 7, 7)
EOF
}

setup() {
  if [ -f "$SITE/.stamp" ] && stack_ok; then log "setup: stack already built"; return; fi
  [ -f .whl/sdist/mmcv-2.0.1.tar.gz ] || die "no .whl/ carried: run tools/benchmarks/prepare_gpu_carry.sh first and carry .whl"
  [ -f work_dirs/gpu_data/proposals.npz ] || die "no work_dirs/gpu_data carried (prepare_gpu_carry.sh)"
  log "setup: environment -> $OUT/env.txt"
  { nvidia-smi; nvcc --version; "$PY" -c 'import torch, sys; print(sys.version); print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(), "bf16", torch.cuda.is_bf16_supported())'; nproc; } > "$OUT/env.txt" 2>&1
  log "setup: wheels -> $SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl > "$OUT/setup.log" 2>&1 || { tail -20 "$OUT/setup.log"; die "wheel install failed"; }
  log "setup: mmcv 2.0.1 with CUDA ops (sm_90, about 4 min on 16 cores)"
  local src=/tmp/mmcv-src
  rm -rf "$src" && mkdir -p "$src" && tar xzf .whl/sdist/mmcv-2.0.1.tar.gz -C "$src"
  src="$src/mmcv-2.0.1"
  sed -i 's/-std=c++14/-std=c++17/g' "$src/setup.py"    # torch 2.11's headers need C++17
  local t0=$SECONDS
  (cd "$src" && FORCE_CUDA=1 MMCV_WITH_OPS=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS="$(nproc)" \
     "$PY" -m pip install --no-build-isolation --no-deps --no-index --no-cache-dir \
     --target "$SITE" --upgrade .) >> "$OUT/setup.log" 2>&1 || { tail -30 "$OUT/setup.log"; die "mmcv build failed (log: setup.log)"; }
  log "setup: mmcv built in $((SECONDS - t0)) s"
  stack_ok || { "$PY" -c 'import mmcv.ops, mmdet, mmselfsup, mmsoco' 2>&1 | tail -5; die "the stack does not import or RoIAlign fails on the GPU"; }
  touch "$SITE/.stamp"
}

amp() {
  setup
  log "amp: demo config with --amp bf16 and fp16 on the GPU, GPU resume (tests/test_amp_gpu.py)"
  MMSOCO_DEMO_DATA="$ROOT/work_dirs/gpu_data/demo" "$PY" -m pytest -q -rs \
    tests/test_amp_gpu.py tests/test_amp.py 2>&1 | tee "$OUT/amp_tests.log"
}

bench() {
  setup
  log "bench: the matrix -> $OUT/bench.txt, bench.jsonl"
  "$PY" tools/benchmarks/benchmark_gpu_throughput.py --data work_dirs/gpu_data \
    --workers "$WORKERS" --batches 64 128 --precisions tf32 bf16 fp16 \
    --poolings single original --steps 20 --warmup 5 --timeout 240 \
    --out "$OUT/bench.jsonl" 2>&1 | tee "$OUT/bench.txt"
}

levers() {
  setup
  log "levers: each lever toggled at batch 128, bf16, single -> $OUT/levers.txt, levers.jsonl"
  "$PY" tools/benchmarks/benchmark_gpu_throughput.py --data work_dirs/gpu_data \
    --workers "$WORKERS" --batches 128 --precisions bf16 --poolings single --no-flops \
    --lever-sweep --lever-base 128 bf16 single --steps 20 --warmup 8 --timeout 300 \
    --out "$OUT/levers.jsonl" 2>&1 | tee "$OUT/levers.txt"
}

[ $# -gt 0 ] || set -- setup amp
for stage in "$@"; do
  case "$stage" in
    setup|amp|bench|levers) "$stage" ;;
    *) die "unknown stage '$stage' (setup, amp, bench, levers)" ;;
  esac
done
log "done: $*"
