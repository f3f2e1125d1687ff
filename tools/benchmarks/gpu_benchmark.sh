#!/usr/bin/env bash
# mmsoco on one CUDA GPU: the environment, mmcv's CUDA build, the mixed-precision tests and the
# pretraining throughput of SoCo R50-FPN from the real data path.
#
#   # online (pip reaches PyPI):
#   bash tools/benchmarks/gpu_benchmark.sh --photos DIR [DIR ...] [--out DIR] [--budget [SECONDS]]
#   # offline: fetch the wheels and mmcv's source beforehand, on a machine with network ...
#   bash tools/benchmarks/gpu_benchmark.sh download --wheels DIR [--python 3.12]
#   # ... then, on the GPU machine:
#   bash tools/benchmarks/gpu_benchmark.sh --wheels DIR --data DIR [--budget]
#   # the plan and its time per step, without running anything (any machine):
#   bash tools/benchmarks/gpu_benchmark.sh --dry-run --budget --cores 16
#
# Steps, in this order: env (GPU, driver, torch, CUDA), build (mmcv 2.0.1 with CUDA ops for the
# local GPU's architecture, installed with the rest of the OpenMMLab stack into --site, next to
# the machine's own torch), bench (batch 128, bf16, single pooling, then in the same run the
# peers at the same batch and precision: torchvision's ResNet-50 and mmselfsup's BYOL; then tf32,
# fp16 and bf16 `original` rows), profile (torch.profiler over one step: the top 15 kernels by
# time), levers (ForeachLARS, torch.compile, torchvision's RoIAlign, channels_last, cudnn
# benchmark, ... toggled one at a time on bf16) and amp (tests/test_amp_gpu.py: bf16 and fp16
# training, a GPU resume).  With --budget (default 720 s = 12 min), a step the time left cannot
# hold is skipped, rows are dropped in this order of importance (the SoCo bf16 row and its
# peers are kept; then the profile; then the levers in order; the extra bench rows go first),
# plan.txt names what was skipped or dropped, and the benchmark itself stops adding rows at the
# deadline.
#
# Photos: --photos takes folders of images; their selective-search proposals are computed here
# (that needs opencv-contrib-python, for cv2.ximgproc).  --data takes a collection made earlier
# (`train/` + `proposals.npz`, as `benchmark_gpu_throughput.py --prepare-data` writes it), for a
# GPU machine without opencv-contrib.
#
# Results in --out (default work_dirs/gpu_benchmark/): plan.txt, env.txt, build.log,
# amp_tests.log, bench.txt + bench.jsonl (the throughput table, the peers, SoCo's TFLOP/s as a
# ratio to ResNet-50's), profile.txt (the kernel table), levers.txt + levers.jsonl.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# ------------------------------------------------------------------------------------------------
# arguments
MODE=run
case "${1:-}" in download|run) MODE="$1"; shift ;; esac
OUT="work_dirs/gpu_benchmark"; SITE="work_dirs/gpu_site"; BUILD="work_dirs/gpu_build"; WHEELS=""; DATA=""; DEMO=""
PHOTOS=(); BUDGET=""; DRY=0; CORES="$(nproc 2>/dev/null || echo 1)"; PYVER="3.12"
PY_SET="${PY:-}"; PY="${PY:-python3}"; WORKERS=""; STEPS=20; WARMUP=5; ARCH=""
usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "gpu_benchmark: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --site) SITE="$2"; shift 2 ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --demo-data) DEMO="$2"; shift 2 ;;
    --photos) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do PHOTOS+=("$1"); shift; done ;;
    --budget) shift; if [[ "${1:-}" =~ ^[0-9]+$ ]]; then BUDGET="$1"; shift; else BUDGET=720; fi ;;
    --dry-run) DRY=1; shift ;;
    --cores) CORES="$2"; shift 2 ;;
    --python) PYVER="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --arch) ARCH="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
WORKERS="${WORKERS:-$(( CORES > 2 ? CORES - 2 : 1 ))}"   # two cores for the training process

# The OpenMMLab stack next to the machine's own torch (torch is never installed here).
STACK=(mmengine==0.10.7 mmdet==3.3.0 mmcls==1.0.0rc6 mmselfsup==1.0.0
  addict==2.4.0 yapf==0.43.0 platformdirs==4.3.6 termcolor==2.5.0 terminaltables==3.1.10
  pycocotools==2.0.8 shapely==2.0.6 model-index==0.1.11 ordered-set==4.1.0 future==1.0.0
  setuptools==69.5.1)                  # mmcv 2.0.1's setup.py imports pkg_resources
MMCV=mmcv==2.0.1

# ------------------------------------------------------------------------------------------------
# download: wheels for --python and mmcv's source, for an offline GPU machine
if [ "$MODE" = download ]; then
  [ -n "$WHEELS" ] || die "download needs --wheels DIR"
  mkdir -p "$WHEELS/sdist"
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$WHEELS" "${STACK[@]}" \
    || die "pip download failed (needs network)"
  # pip reads mmcv's metadata by running its setup.py, which imports torch: use a Python that
  # has torch (the project's .venv when there is one)
  [ -x "$ROOT/.venv/bin/python" ] && [ -z "${PY_SET:-}" ] && PY="$ROOT/.venv/bin/python"
  "$PY" -m pip download -q --no-deps --no-binary=:all: --no-build-isolation \
    -d "$WHEELS/sdist" "$MMCV" || die "pip download of mmcv's source failed (needs torch in $PY)"
  du -sh "$WHEELS"; echo "gpu_benchmark: wheels for Python $PYVER in $WHEELS"; exit 0
fi

# ------------------------------------------------------------------------------------------------
# the plan: an estimate per step, in seconds
# Measured on one H200 machine (16 cores, 2026-12-04): environment 19 s, wheels 8 s, mmcv build
# 251 s, the AMP tests 81 s, FLOP count + pipeline ceiling 29 s, a benchmark row 34-38 s
# (0.36-0.43 s per step at batch 128); the CUDA build scales with the cores that compile it.
# The peer rows and the profile are not measured yet: upper estimates.
BUILD_16=260      # wheels + mmcv 2.0.1 with CUDA ops for one architecture, on 16 cores
STEP_S=0.45       # one training step at batch 128 on an H100/H200-class GPU (upper estimate)
ROW_START=28      # a benchmark row's own start: a new process, the model, the DataLoader workers
PEER_S=30         # a peer row (ResNet-50 or BYOL): start, 25 steps, the FLOP count
PROFILE_S=55      # the profile: start, warm-up, one profiled step, the kernel table
COMPILE_S=60      # torch.compile's first steps, on top of a row
# bench: SoCo bf16 single and its peers always (the comparison), then these rows while they fit
BENCH_EXTRA=("128 fp16 single" "128 tf32 single" "128 bf16 original")
# levers: the base row, then each lever toggled, then all on (benchmark_gpu_throughput.py order)
LEVER_ROWS=(base foreach_lars compile tv_roi_align channels_last cudnn_benchmark non_blocking sgd
  pageable all-on)
row_s() { awk -v n="$(( WARMUP + STEPS ))" -v s="$STEP_S" -v r="$ROW_START" \
  'BEGIN { printf "%d", r + n * s + 0.999 }'; }
lever_row_s() { case "$1" in compile|all-on) echo $(( $(row_s) + COMPILE_S )) ;; *) row_s ;; esac; }
bench_core() { echo $(( 35 + $(row_s) + 2 * PEER_S )); }  # FLOP count + ceiling, 1 row, 2 peers
est() {
  case "$1" in
    env) echo 20 ;;
    build) echo $(( 10 + BUILD_16 * 16 / CORES )) ;;       # wheels, then the compile
    bench) echo $(( $(bench_core) + ${#BENCH_EXTRA[@]} * $(row_s) )) ;;
    profile) echo "$PROFILE_S" ;;
    levers) local t=0 r; for r in "${LEVER_ROWS[@]}"; do t=$(( t + $(lever_row_s "$r") )); done
            echo "$t" ;;
    amp) echo 100 ;;                                       # 3 demo runs of 8 steps, 1 resume
  esac
}
min_need() {  # the benchmark steps add rows until their deadline: they start if their core fits
  case "$1" in
    bench) bench_core ;;
    levers) echo $(( 2 * $(row_s) )) ;;                    # the base row and one lever
    *) est "$1" ;;
  esac
}
STEPS_ALL=(env build bench profile levers amp)
# rows_fit SECONDS NAME... : how many of the rows, in order, the seconds hold (bench extras, levers)
rows_fit() {
  local left="$1" n=0 r t; shift
  for r in "$@"; do
    if [ "${KIND:-}" = levers ]; then t=$(lever_row_s "$r"); else t=$(row_s); fi
    [ "$t" -gt "$left" ] && break
    left=$(( left - t )); n=$(( n + 1 ))
  done
  echo "$n"
}
BENCH_KEEP=${#BENCH_EXTRA[@]}; LEVER_KEEP=${#LEVER_ROWS[@]}
plan() {  # with a budget, a step that does not fit is skipped, and rows that do not fit dropped
  local total=0 t note left keep r
  echo "plan (estimates on $CORES cores; budget ${BUDGET:-none} s):"
  for s in "${STEPS_ALL[@]}"; do
    t=$(est "$s"); note=""
    # bench's extra rows (measured before) rank after the profile and the whole lever sweep
    if [ -n "$BUDGET" ] && [ "$s" = bench ] && [ $(( total + t + $(est profile) + $(est levers) )) -gt "$BUDGET" ]; then
      left=$(( BUDGET - total ))
      if [ "$left" -ge "$(min_need bench)" ]; then
        keep=$(KIND=bench rows_fit $(( left - $(bench_core) - $(est profile) - $(est levers) )) \
          "${BENCH_EXTRA[@]}")
        BENCH_KEEP=$keep; t=$(( $(bench_core) + keep * $(row_s) ))
        [ "$keep" -lt "${#BENCH_EXTRA[@]}" ] && \
          note="  (rows dropped: $(printf '%s, ' "${BENCH_EXTRA[@]:$keep}" | sed 's/, $//'))"
      else
        printf '  %-7s skipped (needs ~%d s, %d s left)\n' "$s" "$(min_need bench)" "$left"
        continue
      fi
    elif [ -n "$BUDGET" ] && [ $(( total + t )) -gt "$BUDGET" ]; then
      left=$(( BUDGET - total ))
      if [ "$s" = levers ] && [ "$left" -ge "$(min_need levers)" ]; then
        keep=$(KIND=levers rows_fit "$left" "${LEVER_ROWS[@]}")
        LEVER_KEEP=$keep; t=0
        for r in "${LEVER_ROWS[@]:0:$keep}"; do t=$(( t + $(lever_row_s "$r") )); done
        note="  (rows dropped: $(printf '%s, ' "${LEVER_ROWS[@]:$keep}" | sed 's/, $//'))"
      else
        printf '  %-7s skipped (needs ~%d s, %d s left)\n' "$s" "$t" "$left"
        continue
      fi
    fi
    total=$(( total + t ))
    printf '  %-7s %4d s   (cumulative %4d s)%s\n' "$s" "$t" "$total" "$note"
  done
  echo "  total   $total s"
}
mkdir -p "$OUT"
plan > "$OUT/plan.txt"      # not in a pipe: plan() sets BENCH_KEEP for the bench step
cat "$OUT/plan.txt"
[ "$DRY" = 1 ] && exit 0

START=$SECONDS
log() { echo "== $(date -u +%H:%M:%S) +$(( SECONDS - START ))s $*"; }
fits() {  # fits STEP: does the time left hold this step?  The benchmark steps stop adding rows
  [ -z "$BUDGET" ] && return 0     # at the deadline, so they start when their first row fits.
  local left=$(( BUDGET - (SECONDS - START) )) need; need=$(est "$1")
  need=$(min_need "$1")
  if [ "$need" -gt "$left" ]; then log "$1: skipped (needs ~${need} s, ${left} s left)"; return 1; fi
}
deadline_args() { [ -n "$BUDGET" ] && echo "--deadline $(( $(date +%s) + BUDGET - (SECONDS - START) ))"; }

export PYTHONPATH="$ROOT:$ROOT/$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p "$SITE"
OUT="$(cd "$OUT" && pwd)"

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

step_env() {
  log "env -> env.txt"
  { date -u; nvidia-smi; nvcc --version; nproc; free -g
    "$PY" -c 'import sys, torch; print(sys.version); print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version()); print(torch.cuda.get_device_name(), "capability", torch.cuda.get_device_capability(), "bf16", torch.cuda.is_bf16_supported())'
  } > "$OUT/env.txt" 2>&1
  "$PY" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null \
    || die "no CUDA GPU visible to $PY's torch (see $OUT/env.txt)"
}

step_build() {
  if stack_ok; then log "build: mmcv's CUDA ops already import and run"; return; fi
  local src="$ROOT/$BUILD" arch pipargs=()
  if [ -n "$WHEELS" ]; then
    ls "$WHEELS"/sdist/mmcv-2.0.1.tar.gz >/dev/null 2>&1 \
      || die "no $WHEELS/sdist/mmcv-2.0.1.tar.gz: make the folder with '$0 download --wheels $WHEELS'"
    log "build: the stack from $WHEELS -> $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$SITE" "$WHEELS"/*.whl > "$OUT/build.log" 2>&1 \
      || { tail -20 "$OUT/build.log"; die "installing the wheels failed (build.log)"; }
    mkdir -p "$BUILD" && cp "$WHEELS/sdist/mmcv-2.0.1.tar.gz" "$BUILD/"
    pipargs=(--no-index)
  else
    log "build: the stack from PyPI -> $SITE"
    "$PY" -m pip install -q --no-deps --no-cache-dir --upgrade --target "$SITE" "${STACK[@]}" \
      > "$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; die "pip install failed (build.log)"; }
    mkdir -p "$BUILD" && "$PY" -m pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$BUILD" "$MMCV" >> "$OUT/build.log" 2>&1 \
      || die "downloading mmcv's source failed (build.log)"
  fi
  arch="${ARCH:-$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}"
  log "build: mmcv 2.0.1 with CUDA ops for sm_${arch/./} ($(nproc) cores)"
  rm -rf "$src/mmcv-2.0.1" && tar xzf "$BUILD/mmcv-2.0.1.tar.gz" -C "$src"
  src="$src/mmcv-2.0.1"
  sed -i 's/-std=c++14/-std=c++17/g' "$src/setup.py"      # torch 2.x headers need C++17 or later
  local t0=$SECONDS
  (cd "$src" && FORCE_CUDA=1 MMCV_WITH_OPS=1 TORCH_CUDA_ARCH_LIST="$arch" MAX_JOBS="$(nproc)" \
    PYTHONPATH="$ROOT/$SITE" "$PY" -m pip install --no-build-isolation --no-deps --no-cache-dir \
    "${pipargs[@]}" --target "$ROOT/$SITE" --upgrade .) >> "$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log"; die "mmcv's build failed (build.log)"; }
  echo "mmcv build: $(( SECONDS - t0 )) s on $(nproc) cores, sm_${arch/./}" | tee -a "$OUT/env.txt"
  stack_ok || { "$PY" -c 'import mmcv.ops, mmdet, mmselfsup, mmsoco' 2>&1 | tail -5
    die "the stack does not import, or RoIAlign fails on the GPU"; }
}

step_amp() {
  log "amp: tests/test_amp_gpu.py -> amp_tests.log"
  MMSOCO_DEMO_DATA="${DEMO:+$(cd "$DEMO" && pwd)}" "$PY" -m pytest -q -rs -p no:cacheprovider \
    tests/test_amp_gpu.py 2>&1 | tee "$OUT/amp_tests.log"
}

prepare_data() {
  [ -n "$DATA" ] && return
  [ ${#PHOTOS[@]} -gt 0 ] || die "give --photos DIR [DIR ...] (or --data with a prepared collection)"
  DATA=work_dirs/gpu_benchmark_data
  log "data: proposals for ${PHOTOS[*]} -> $DATA"
  "$PY" tools/benchmarks/benchmark_gpu_throughput.py --prepare-data "$DATA" --photos "${PHOTOS[@]}" \
    || die "preparing the photos failed (proposals need opencv-contrib-python)"
}

bench_common() { echo --data "$DATA" --workers "$WORKERS" --steps "$STEPS" --warmup "$WARMUP"; }

step_bench() {
  local rows=(--row 128 bf16 single) r
  for r in "${BENCH_EXTRA[@]:0:$BENCH_KEEP}"; do rows+=(--row $r); done
  log "bench: SoCo batch 128 bf16 single, ResNet-50 and BYOL peers, ${BENCH_KEEP} more rows -> bench.txt, bench.jsonl"
  # shellcheck disable=SC2046
  "$PY" tools/benchmarks/benchmark_gpu_throughput.py $(bench_common) $(deadline_args) \
    "${rows[@]}" --peers resnet50 byol --out "$OUT/bench.jsonl" 2>&1 | tee "$OUT/bench.txt"
}

step_profile() {
  log "profile: torch.profiler over one step, batch 128, bf16, single -> profile.txt"
  # shellcheck disable=SC2046
  "$PY" tools/benchmarks/benchmark_gpu_throughput.py $(bench_common) --row 128 bf16 single \
    --profile "$OUT/profile.txt" --out "$OUT/profile.jsonl" 2>&1 | tail -20
}

step_levers() {
  log "levers: each lever toggled on batch 128, bf16, single -> levers.txt, levers.jsonl"
  # shellcheck disable=SC2046
  "$PY" tools/benchmarks/benchmark_gpu_throughput.py $(bench_common) $(deadline_args) \
    --no-flops --no-ceiling --lever-sweep --lever-base 128 bf16 single --row 128 bf16 single \
    --out "$OUT/levers.jsonl" 2>&1 | tee "$OUT/levers.txt"
}

if [ -z "$DEMO" ] && [ -n "$DATA" ] && [ -f "$DATA/demo/proposals.npz" ]; then DEMO="$DATA/demo"; fi
fits env && step_env
fits build && step_build
stack_ok || die "mmcv's CUDA ops are not built; nothing else can run"
prepare_data
fits bench && step_bench
fits profile && step_profile
fits levers && step_levers
fits amp && step_amp
log "done; results in $OUT"
