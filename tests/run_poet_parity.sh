#!/bin/sh
# ARG-Poet parity against the PyTorch twin: tools/train/poet_parity.py makes a
# random-weight model and reference vectors with tools/train/poet.py, then
# test_synth replays them with the C engine (logits within 1e-3, the same
# greedy tokens, code lengths). Exit 77 (skipped) without the twin.
# usage: run_poet_parity.sh TEST_SYNTH PYTHON SRCDIR WORKDIR SEED DTYPE WINDOW H W [MODEL]
# With MODEL (e.g. the shipped models/poet-s8.safetensors) its weights replace the random
# ones (WINDOW is then the file's).
set -eu
bin=$1 py=$2 src=$3 work=$4 seed=$5 dtype=$6 window=$7 h=$8 w=$9
if [ ! -f "$src/tools/train/poet.py" ] && [ -z "${PYTHONPATH:-}" ]; then
    echo "tools/train/poet.py (the twin) is not in this tree: skipped"
    exit 77
fi
mkdir -p "$work"
tag="s$seed-$dtype-w$window-${h}x$w"
from=""
if [ $# -ge 10 ]; then
    from="--model ${10}"
    tag="$tag-$(basename "${10}" .safetensors)"
fi
model="$work/poet-$tag.safetensors"
vec="$work/poet-$tag-vectors.safetensors"
"$py" "$src/tools/train/poet_parity.py" --seed "$seed" --dtype "$dtype" --window "$window" \
    --height "$h" --width "$w" --out-model "$model" --out-vectors "$vec" $from
exec "$bin" --parity "$model" "$vec"
