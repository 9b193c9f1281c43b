#!/usr/bin/env bash
# Look at the int8 decoder: for colour bars, a dark scene, text and a real
# clip, encode 17 pictures of 640x360 (float encoder), decode with the float
# (builtin) and the int8 path, and write one PNG per clip of picture 12:
# source, float decode, int8 decode, and 128 + 32 x (int8 - float) in luma,
# stacked top to bottom; prints the float-vs-int8 PSNR of each clip.
# usage: scripts/int8_strips.sh [BUILD_DIR] [OUT_DIR]   (needs ffmpeg, data/vtest.y4m)
set -euo pipefail
build=${1:-build}
out=${2:-/tmp/int8-strips}
src=$(cd "$(dirname "$0")/.." && pwd)
model=$src/models/arg-s8.safetensors
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ff() { ffmpeg -v error -y "$@"; }
sz=640x360
ff -f lavfi -i "smptehdbars=size=$sz:rate=25" -frames:v 17 -pix_fmt yuv420p "$work/bars.y4m"
ff -i "$src/data/vtest.y4m" -frames:v 17 -vf "scale=$sz,eq=brightness=-0.28:contrast=0.55" -pix_fmt yuv420p "$work/dark.y4m"
ff -f lavfi -i "testsrc=size=$sz:rate=25" -frames:v 17 -pix_fmt yuv420p "$work/text.y4m"
ff -i "$src/data/vtest.y4m" -frames:v 17 -vf "scale=$sz" -pix_fmt yuv420p "$work/vtest.y4m"
for clip in bars dark text vtest; do
    "$build/tools/argenc" -y -i "$work/$clip.y4m" -o "$work/$clip.mkv" -m "$model" --gemm builtin --quiet >/dev/null
    for g in builtin int8; do
        "$build/tools/argdec" -y -i "$work/$clip.mkv" -m "$model" -o "$work/$clip.$g.y4m" --gemm $g --quiet 2>/dev/null
    done
    psnr=$("$build/tools/argqual" -r "$work/$clip.builtin.y4m" -d "$work/$clip.int8.y4m" --psnr-only | grep PSNR)
    echo "$clip: float vs int8 $psnr"
    ff -i "$work/$clip.y4m" -i "$work/$clip.builtin.y4m" -i "$work/$clip.int8.y4m" -filter_complex \
        "[0]select=eq(n\,12)[s];[1]select=eq(n\,12),split[f][fa];[2]select=eq(n\,12),split[i][ia];\
[ia][fa]blend=c0_expr='128+32*(A-B)':c1_expr=128:c2_expr=128[d];[s][f][i][d]vstack=inputs=4" \
        -frames:v 1 "$out/int8-$clip.png"
done
echo "strips in $out"
