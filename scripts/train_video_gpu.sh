#!/usr/bin/env bash
# The video model's GPU recipe (issue 22), beside the CPU one in the README: on one NVIDIA H100/H200 the same
# `pixeldrift train video` from the default model, 8x the CPU batch, bf16, the world's clips rendered by 14
# worker processes, stopped after 7 minutes of training wall time; then bench/video.py's table.
#
#   here, once:      bash scripts/gpu_bundle.sh           # .gpu/site: MiniLM's files, which that machine lacks
#                    bash scripts/gpu_slim_tree.sh on     # the tree must travel in 64 MiB; "off" afterwards
#   on the GPU:      the device tool's run, carry [".gpu"]:  bash scripts/train_video_gpu.sh "$OUT"
#   on a CPU, tiny:  PIXELDRIFT_GPU_SMOKE=1 bash scripts/train_video_gpu.sh /tmp/video-smoke  (tests/cli runs this)
#
# Writes OUT/video/ (the video model folder), OUT/log.csv, OUT/video.md (the table) and OUT/times.txt.
set -euo pipefail
OUT=${1:?usage: scripts/train_video_gpu.sh OUT_DIR}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/.gpu/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
WORK=$(mktemp -d)
if [[ ${PIXELDRIFT_GPU_SMOKE:-0} == 1 ]]; then
  RUN=(--device cpu --batch-size 2 --steps 2 --max-minutes 5 --checkpoint-every 2)
  SCORE=(--limit 2 --seeds 0 --steps 2 --skip-baseline)
else
  RUN=(--device cuda --bf16 --batch-size 128 --steps 6000 --data-workers 14 --max-minutes 7 --checkpoint-every 1000)
  SCORE=(--seeds 0,1,2,3 --threads 8)
fi
mkdir -p "$OUT"
started=$(date +%s)
"$PY" -m pixeldrift.cli.main train video --init models/default "${RUN[@]}" --lr 4e-4 --temporal-lr-scale 5 \
    --out "$WORK/run" --export "$OUT/video"
trained=$(date +%s)
"$PY" bench/video.py --video "$OUT/video" "${SCORE[@]}" | tee "$OUT/video.md"
cp "$WORK/run/log.csv" "$OUT/log.csv"
printf 'training, data and export: %s s\nscoring: %s s\n' "$((trained - started))" "$(($(date +%s) - trained))" \
    | tee "$OUT/times.txt"
rm -rf "$WORK"
