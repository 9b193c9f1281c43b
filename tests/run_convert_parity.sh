#!/bin/sh
# Open-MAGVIT2 converter, end to end through the C engine: write a random
# Open-MAGVIT2-style checkpoint, convert it (f16 storage, EMA weights), make
# PyTorch vectors from the converted file and check the C engine against them.
# usage: run_convert_parity.sh TEST_PARITY_BIN PYTHON SRCDIR WORKDIR
set -eu
bin=$1 py=$2 src=$3 work=$4
mkdir -p "$work"
t="$src/tools/train"
"$py" "$t/make_om2_checkpoint.py" --config paper32 --seed 11 -o "$work/om2.ckpt"
"$py" "$t/convert_open_magvit2.py" "$work/om2.ckpt" -o "$work/om2.safetensors" --dtype f16
"$py" "$t/make_parity.py" --model "$work/om2.safetensors" --seed 12 --frames 17 --height 32 \
    --width 32 --out-vectors "$work/om2-vectors.safetensors"
exec "$bin" "$work/om2.safetensors" "$work/om2-vectors.safetensors"
