#!/usr/bin/env bash
# Usage: [GPUS=16 GPUS_PER_NODE=8 CPUS_PER_TASK=5] tools/slurm_train.sh PARTITION JOB CONFIG [WORK_DIR] [train.py args]
# The project's .venv python is used when present (PYTHON=... overrides).  Each task's train.py
# checks config, device and data before training (one line when something is missing).
if ! command -v srun >/dev/null 2>&1; then
  echo "slurm_train.sh: srun not found: this script submits to a Slurm cluster (run it on a" \
    "Slurm login node); on one machine use tools/dist_train.sh CONFIG GPUS" >&2
  exit 127
fi
set -x
PARTITION="$1"
JOB_NAME="$2"
CONFIG="$3"
WORK_DIR=${4:-}
GPUS=${GPUS:-16}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
[ -x "$ROOT/.venv/bin/python" ] && [ "$PYTHON" = python ] && PYTHON="$ROOT/.venv/bin/python"
WORK_DIR_ARG=()
[ -n "$WORK_DIR" ] && WORK_DIR_ARG=("--work-dir=${WORK_DIR}")
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# SRUN_ARGS is split on spaces on purpose (several srun options in one variable)
# shellcheck disable=SC2086
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$ROOT/tools/train.py" "${CONFIG}" "${WORK_DIR_ARG[@]}" --launcher="slurm" "${@:5}"
