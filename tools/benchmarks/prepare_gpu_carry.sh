#!/usr/bin/env bash
# Prepare, on a machine with the package registry and ../shared/datasets, everything a GPU session
# carries to the accelerator machine (which has Python 3.12 and torch 2.11 but no network):
#
#   .whl/                 wheels for Python 3.12 of what that machine lacks (the OpenMMLab stack and
#                         its small pure-Python needs), plus .whl/sdist/mmcv-2.0.1.tar.gz, compiled
#                         there with CUDA ops by gpu_session.sh.  Both folders are git-ignored.
#   work_dirs/gpu_data/   real photos (coco128 train2017 + raccoon) and their selective-search
#                         proposals, for benchmark_gpu_throughput.py
#   work_dirs/gpu_data/demo/  16 demo photos (scikit-image) + proposals, for tests/test_amp_gpu.py
#
# Proposals are computed here because selective search needs opencv-contrib (cv2.ximgproc), which
# the GPU image lacks (it has opencv-python-headless) and which is too large to carry.
#
#   bash tools/benchmarks/prepare_gpu_carry.sh          # then carry: [".whl", "work_dirs/gpu_data"]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${PY:-$ROOT/.venv/bin/python}"
DATASETS="${DATASETS:-$ROOT/../shared/datasets}"
WHL="$ROOT/.whl"
mkdir -p "$WHL/sdist"

# Not in the GPU image (its package list: ../.library/device/KINDS.md); numpy, scipy, matplotlib,
# rich, pyyaml, packaging, pillow, einops, tqdm, six, opencv-python-headless, ninja are there.
WHEELS=(
  mmengine==0.10.7 mmdet==3.3.0 mmcls==1.0.0rc6 mmselfsup==1.0.0
  addict==2.4.0 yapf==0.43.0 platformdirs==4.3.6 termcolor==2.5.0 terminaltables==3.1.10
  pycocotools==2.0.8 shapely==2.0.6 model-index==0.1.11 ordered-set==4.1.0 future==1.0.0
  setuptools==69.5.1   # mmcv 2.0.1's setup.py imports pkg_resources
)
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$WHL" "${WHEELS[@]}"
"$PY" -m pip download -q --no-deps --no-binary=:all: -d "$WHL/sdist" mmcv==2.0.1

"$PY" tools/benchmarks/benchmark_gpu_throughput.py --prepare-data work_dirs/gpu_data \
  --photos "$DATASETS/coco128/images/train2017" "$DATASETS/raccoon/images"
DEMO=work_dirs/gpu_data/demo
"$PY" -c "from data_prep.demo_collection import build_demo_collection as b; b('$DEMO', n_images=16)"
[ -f "$DEMO/proposals.npz" ] || "$PY" -m data_prep.generate_proposals "$DEMO/train" \
  --out "$DEMO/proposals.npz" --workers 2 --no-progress
for data in work_dirs/gpu_data "$DEMO"; do   # every image must have its proposals
  "$PY" -c "import sys; from data_prep.storage import ProposalStore as S; s = S.load('$data/proposals.npz'); \
n = sum(len(s[k]) > 0 for k in s.keys()); print('$data:', n, 'of', len(s), 'images with proposals'); sys.exit(n < len(s))"
done
du -sh "$WHL" work_dirs/gpu_data
echo "carry: [\".whl\", \"work_dirs/gpu_data\"] (64 MiB at most with the tree)"
