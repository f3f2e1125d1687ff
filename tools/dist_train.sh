#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args]
#   GPUS is the number of processes (GPUs) on THIS node.
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT (defaults: 1 node, rank 0, 127.0.0.1, 29500),
#   e.g. 16 GPUs as 2 nodes of 8:  NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8
# Before launching, the node's CUDA GPUs are counted (CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`);
# asking for more than the node has stops with one line and the multi-node form.  Then
# `tools/train.py CONFIG --check` checks the config once (SyncBN without a GPU, mmcv without CUDA
# ops, a missing data root or proposals file, a proposals file of another image folder) and stops
# with one line before any process starts.
# On a machine without GPUs the processes run on CPUs with the gloo backend (mmsoco's train.py
# sets that up; the config must use plain BN, or DEVICE=cpu).  DEVICE=cuda insists on GPUs;
# DEVICE=cpu runs on CPUs even where GPUs are (it hides them: CUDA_VISIBLE_DEVICES=-1), and a
# SyncBN config with per-process BN (train.py --plain-bn), as the demo config's plain BN.
# The project's .venv python is used when present (PYTHON=... overrides).
CONFIG="$1"
GPUS="$2"
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DEVICE=${DEVICE:-auto}
ROOT="$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
[ -x "$ROOT/.venv/bin/python" ] && [ "$PYTHON" = python ] && PYTHON="$ROOT/.venv/bin/python"

if [ -z "$CONFIG" ] || ! [[ "$GPUS" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tools/dist_train.sh CONFIG GPUS [train.py args]   (GPUS: processes on this node)" >&2
  exit 2
fi

# CUDA GPUs this node gives the job: what nvidia-smi lists, narrowed by CUDA_VISIBLE_DEVICES.
count_gpus() {
  local n=0 visible
  command -v nvidia-smi >/dev/null 2>&1 && n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  if [ -n "${CUDA_VISIBLE_DEVICES+x}" ]; then
    visible="${CUDA_VISIBLE_DEVICES// /}"
    if [ -z "$visible" ] || [ "${visible:0:2}" = "-1" ]; then
      visible=0
    else
      visible=$(echo "$visible" | tr ',' '\n' | grep -c .)
    fi
    if ! command -v nvidia-smi >/dev/null 2>&1 || [ "$visible" -lt "$n" ]; then n=$visible; fi
  fi
  echo "$n"
}

EXTRA=()
if [ "$DEVICE" = cpu ]; then
  export CUDA_VISIBLE_DEVICES=-1
  EXTRA=(--plain-bn)   # torch's DDP refuses SyncBN in CPU modules
else
  FOUND=$(count_gpus)
  if [ "$FOUND" -gt 0 ] || [ "$DEVICE" = cuda ]; then
    if [ "$GPUS" -gt "$FOUND" ]; then
      # the largest per-node count that divides GPUS and fits this node (8 if no GPU was found)
      PER_NODE=$(( FOUND > 0 ? FOUND : 8 ))
      while [ $(( GPUS % PER_NODE )) -ne 0 ]; do PER_NODE=$(( PER_NODE - 1 )); done
      NOTE=""
      [ "$FOUND" -eq 0 ] && NOTE=" (no CUDA GPU visible; without DEVICE=cuda it runs on CPUs with gloo)"
      echo "dist_train.sh: asked for $GPUS GPUs on this node but found $FOUND$NOTE; GPUS counts" \
        "GPUs per node, so spread the job over nodes: NNODES=$(( GPUS / PER_NODE ))" \
        "NODE_RANK=.. MASTER_ADDR=.. tools/dist_train.sh $CONFIG $PER_NODE" >&2
      exit 1
    fi
  fi
fi

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# one process checks config, device and data first: a run that cannot work stops here, in seconds
"$PYTHON" "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch --check "${EXTRA[@]}" "${@:3}" \
  >/dev/null || exit $?

"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${EXTRA[@]}" "${@:3}"
