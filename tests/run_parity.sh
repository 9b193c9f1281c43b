#!/bin/sh
# Parity against the PyTorch twin: generate fixed-seed random weights and
# vectors with tools/train/make_parity.py, then check them with test_parity.
# usage: run_parity.sh TEST_PARITY_BIN PYTHON SRCDIR WORKDIR CONFIG SEED FRAMES H W [TEST_OPS_BIN]
# With TEST_OPS_BIN, also check that mutated copies of the model are rejected.
set -eu
bin=$1 py=$2 src=$3 work=$4 cfg=$5 seed=$6 frames=$7 h=$8 w=$9
mkdir -p "$work"
model="$work/$cfg-s$seed.safetensors"
vec="$work/$cfg-s$seed-vectors.safetensors"
"$py" "$src/tools/train/make_parity.py" --config "$cfg" --seed "$seed" --frames "$frames" \
    --height "$h" --width "$w" --out-model "$model" --out-vectors "$vec"
"$bin" "$model" "$vec"
if [ $# -ge 10 ]; then
    "${10}" "$model"
fi
