#!/usr/bin/env bash
# The main job: install, build, fetch real footage, and run it through the
# ARG tokenizer with argtok (rate, speed, PSNR).
#
#   bash scripts/main_job.sh
#
# Environment:
#   ARG_MODEL  model weights (default models/arg-s8.safetensors). When the
#              file is missing, a random-weight compact model is generated
#              with tools/train/make_parity.py: its PSNR means nothing.
#   FRAMES     pictures per clip (default 60)
#   CLIPS      clips to run, from vtest box cup tree (default: vtest)
#   THREADS    argtok --threads (default 0: one per core)
#   GEMM       argtok --gemm (default auto)
set -euo pipefail
cd "$(dirname "$0")/.."

FRAMES=${FRAMES:-60}
CLIPS=${CLIPS:-vtest}
THREADS=${THREADS:-0}
GEMM=${GEMM:-auto}

step() { printf '\n=== %s\n' "$*"; }

step "bootstrap"
bash scripts/bootstrap.sh

step "build"
if [ ! -f build/build.ninja ]; then
    meson setup build
fi
ninja -C build

step "data"
bash scripts/fetch_data.sh --frames "$FRAMES"

step "model"
model=${ARG_MODEL:-models/arg-s8.safetensors}
untrained=0
if [ ! -f "$model" ]; then
    if [ -n "${ARG_MODEL:-}" ]; then
        echo "main_job: ARG_MODEL=$ARG_MODEL does not exist" >&2
        exit 1
    fi
    gen=tools/train/make_parity.py
    if [ ! -f "$gen" ]; then
        echo "main_job: no trained model ($model) and no $gen to make a random one" >&2
        exit 1
    fi
    model=build/random-compact.safetensors
    if [ ! -s "$model" ] || [ "$gen" -nt "$model" ]; then
        echo "main_job: $model: generating random weights (compact config, seed 1)"
        # The parity vectors are not needed here; they go to a scratch file.
        /usr/bin/python3 "$gen" --config compact --seed 1 --frames 1 --height 8 --width 8 \
            --out-model "$model" --out-vectors build/random-compact.vectors
    fi
    untrained=1
fi
echo "main_job: model $model"
if [ $untrained -eq 1 ]; then
    cat <<'NOTICE'
****************************************************************************
* NOTICE: the shipped model (models/arg-s8.safetensors) is missing.         *
* Using RANDOM, UNTRAINED weights: the speed and token rate are real, but   *
* the PSNR below is meaningless.                                            *
****************************************************************************
NOTICE
fi

status=0
for clip in $CLIPS; do
    # a real clip with an audio track (a tone as long as the clip: any audio source would do)
    rate=$(head -c 200 "data/$clip.y4m" | tr ' ' '\n' | sed -n 's/^F\([0-9]*\):\([0-9]*\).*/\1 \2/p' | head -n1)
    secs=$(echo "$rate" | awk -v n="$FRAMES" '{ printf "%.3f", n * $2 / $1 }')
    ffmpeg -v error -y -f lavfi -i "sine=frequency=330:sample_rate=48000:duration=$secs" -ac 2 "build/$clip-tone.wav"
    step "argenc: $clip ($FRAMES frames + audio) -> build/$clip.mkv"
    if ! build/tools/argenc -i "data/$clip.y4m" -i "build/$clip-tone.wav" -o "build/$clip.mkv" \
            -m "$model" --frames "$FRAMES" --threads "$THREADS"; then
        echo "main_job: argenc failed on $clip" >&2
        status=1
        continue
    fi
    step "argdec: build/$clip.mkv -> build/$clip-decoded.y4m + .wav"
    if ! build/tools/argdec -i "build/$clip.mkv" -m "$model" -o "build/$clip-decoded.y4m" \
            --audio "build/$clip-decoded.wav" --threads "$THREADS" --psnr "data/$clip.y4m"; then
        echo "main_job: argdec failed on $clip" >&2
        status=1
    fi
    if command -v mkvmerge >/dev/null 2>&1; then
        mkvmerge -i "build/$clip.mkv" | sed 's/^/mkvmerge: /'
    fi
done
if [ $untrained -eq 1 ]; then
    echo
    echo "main_job: reminder: random untrained weights, PSNR is meaningless"
fi
exit $status
