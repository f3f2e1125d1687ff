#!/usr/bin/env bash
# Create (or reuse) the project-local virtual environment `.venv` with the pinned OpenMMLab stack,
# mmcv compiled from source with its ops, and mmsoco installed in development mode.
#
# Idempotent: a stamp in .venv records the hash of requirements/pins.txt (comments left out); when
# it matches and the stack imports, nothing is installed or rebuilt.  The first run on a fresh
# machine takes ~15-25 minutes, almost all of it compiling mmcv's C++ ops (77 files on 2 cores);
# pip caches the built wheel, so a rebuilt venv on the same machine takes a few minutes.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMSOCO_VENV:-$ROOT/.venv}"
PINS="$ROOT/requirements/pins.txt"
LOG="$VENV.install.log"
PY_WANTED="3.11"

die() { echo "mmsoco setup: $*" >&2; exit 1; }
pin() { grep -E "^$1[=<>]" "$PINS" | sed 's/[[:space:]]*#.*//' | head -n1; }

# --- prerequisites, each with one clear line ------------------------------------------------------
is_wanted() { [ "$("$1" -c 'import sys;print("%d.%d"%sys.version_info[:2])' 2>/dev/null)" = "$PY_WANTED" ]; }
if [ -n "${PYTHON:-}" ]; then
  is_wanted "$PYTHON" || die "PYTHON=$PYTHON is not a Python $PY_WANTED; point PYTHON at python$PY_WANTED."
else
  for cand in python3.11 python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && is_wanted "$cand"; then
      PYTHON="$(command -v "$cand")"; break
    fi
  done
fi
[ -n "${PYTHON:-}" ] || die "Python $PY_WANTED not found. Install it (e.g. 'apt install python3.11 python3.11-venv' or 'pyenv install 3.11') or set PYTHON=/path/to/python3.11."
command -v g++ >/dev/null 2>&1 || die "no C++ compiler (g++) found; mmcv's ops are compiled from source. Install it with 'apt install g++' (or 'build-essential')."

# the pins without their comments: a reworded comment rebuilds nothing
stamp_want="$(sed 's/[[:space:]]*#.*//' "$PINS" | grep . | sha256sum | cut -c1-16)"
if [ -f "$VENV/.mmsoco-stamp" ] && [ "$(cat "$VENV/.mmsoco-stamp")" = "$stamp_want" ] && \
   "$VENV/bin/python" -c 'import mmsoco, mmcv.ops, mmdet, mmselfsup, mmseg.models' >/dev/null 2>&1; then
  exit 0   # already set up: nothing to do
fi

echo "mmsoco setup: installing into $VENV (log: $LOG)"
echo "mmsoco setup: first install on a fresh machine takes ~15-25 min (mmcv ops compile from source)."
: > "$LOG"
step() {  # step "what" cmd...: run quietly into the log, one clear line on failure
  local what="$1"; shift
  echo "  - $what"
  if ! "$@" >>"$LOG" 2>&1; then
    tail -n 15 "$LOG" | sed 's/^/    | /' >&2
    die "failed: $what. Full log: $LOG"
  fi
}

[ -x "$VENV/bin/python" ] || step "create virtual environment" "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

step "torch and torchvision" "${PIP[@]}" install "$(pin torch)" "$(pin torchvision)" "$(pin numpy)"
# torch 2.14.1 declares setuptools>=77 but runs with the older one; mmcv's build needs pkg_resources.
step "build tools (setuptools<70, ninja)" "${PIP[@]}" install "$(pin setuptools)" "$(pin ninja)" wheel
step "mmengine" "${PIP[@]}" install "$(pin mmengine)"

# mmcv: built from source.  mmcv 2.0.1 hard-codes -std=c++14 but torch 2.14's headers need C++20,
# and CXXFLAGS cannot override it (mmcv's flag comes last), so the compiler is a wrapper that
# rewrites the standard flag.  CUDA ops are built when nvcc and a GPU are visible.
if ! "$VENV/bin/python" -c 'import mmcv.ops' >/dev/null 2>&1; then
  WRAP="$VENV/mmsoco-cxx"
  mkdir -p "$WRAP"
  for tool in g++ gcc c++; do
    real="$(command -v $tool || command -v g++)"
    cat > "$WRAP/$tool" <<WRAPPER
#!/usr/bin/env bash
args=()
for a in "\$@"; do
  case "\$a" in -std=c++14|-std=c++17|-std=gnu++14|-std=gnu++17) a=-std=c++20 ;; esac
  args+=("\$a")
done
exec $real "\${args[@]}"
WRAPPER
    chmod +x "$WRAP/$tool"
  done
  export CC="$WRAP/gcc" CXX="$WRAP/g++" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
  export PATH="$VENV/bin:$PATH"
  if command -v nvcc >/dev/null 2>&1 && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    export FORCE_CUDA=1; echo "  (GPU and nvcc found: building CUDA ops too)"
  fi
  step "mmcv with compiled ops (the long step; progress in $LOG)" "${PIP[@]}" install \
    --no-build-isolation --no-binary mmcv "$(pin mmcv)"
  "$VENV/bin/python" -c 'from mmcv.ops import RoIAlign, nms' >>"$LOG" 2>&1 || \
    die "mmcv installed but its compiled ops do not import. See $LOG."
fi

step "mmdet, mmcls, mmselfsup, OpenCV contrib, scikit-image, pytest (with xdist)" "${PIP[@]}" install \
  "$(pin mmdet)" "$(pin mmcls)" "$(pin mmselfsup)" "$(pin opencv-contrib-python)" \
  "$(pin scikit-image)" "$(pin pytest)" "$(pin pytest-xdist)" "$(pin execnet)" "$(pin numpy)"
# mmsegmentation for the segmentation transfer; ftfy and regex are imported by mmseg but not
# declared by it (requirements/pins.txt)
step "mmsegmentation (with ftfy, regex)" "${PIP[@]}" install "$(pin mmsegmentation)" \
  "$(pin ftfy)" "$(pin regex)" "$(pin numpy)"
# opencv-python (pulled in by some packages) shadows the contrib build's cv2: keep only contrib.
if "${PIP[@]}" show opencv-python >/dev/null 2>&1 || "${PIP[@]}" show opencv-python-headless >/dev/null 2>&1; then
  step "keep only opencv-contrib" bash -c "'${PIP[0]}' -m pip uninstall -y opencv-python opencv-python-headless && \
    '${PIP[0]}' -m pip install --force-reinstall --no-deps '$(pin opencv-contrib-python)'"
fi
# mmpretrain, the second route (configs/mmpretrain): its light dependencies are pinned too, and the
# pins above are already what it accepts, so pip adds four small packages (no rebuild of anything)
step "mmpretrain (the MMPretrain route)" "${PIP[@]}" install "$(pin mmpretrain)" \
  "$(pin importlib-metadata)" "$(pin mat4py)" "$(pin zipp)" "$(pin numpy)"
# openmim without its dependencies (see requirements/pins.txt), then the ones mim's commands import
step "openmim (mim train / mim search mmsoco)" "${PIP[@]}" install --no-deps "$(pin openmim)"
step "openmim's runtime dependencies" "${PIP[@]}" install "$(pin model-index)" click colorama \
  tabulate rich requests pandas
# Development install through setup.py develop (not PEP 660): it links configs/, tools/ and
# model-index.yml into mmsoco/.mim, and leaves the package where mim looks for it (the checkout);
# under PEP 660 mim resolves the package to site-packages/mmsoco, which does not exist.
step "mmsoco (editable)" "${PIP[@]}" install --no-build-isolation --no-deps --no-use-pep517 \
  -e "$ROOT"

# mmsoco first: it picks its host (mmselfsup here) and refuses the other, which mmdet's and mmseg's
# models would otherwise import (mmsoco/registry.py); then the MMPretrain route in a process of its own
"$VENV/bin/python" -c 'import mmsoco, mmcv.ops, mmdet, mmselfsup, mmseg.models, cv2; cv2.ximgproc.segmentation' >>"$LOG" 2>&1 && \
  "$VENV/bin/python" -c 'import mmpretrain, mmsoco' >>"$LOG" 2>&1 || \
  die "the stack installed but does not import; see $LOG"
echo "$stamp_want" > "$VENV/.mmsoco-stamp"
echo "mmsoco setup: done ($VENV)"
