#!/usr/bin/env bash
# `meson install` into a fresh prefix, then use the installed tree as an
# outsider would (meson test --suite install):
#   - arg.pc, every public header of codec/include/arg/ and every shipped
#     model (with its card) are installed;
#   - tests/install/consumer.c builds with `pkg-config --cflags --libs arg`
#     alone (PKG_CONFIG_PATH pointing into the prefix) and encodes and
#     decodes pictures with an installed model, which must resemble them;
#   - when argenc/argdec were built (Matroska and Opus found), the installed
#     tools, run from another folder with ARG_MODEL_PATH unset, find their
#     model in the installed data folder and round-trip a clip. An installed
#     tool never searches the source tree (tools/common/modelpath.c), so
#     this holds after the source tree is gone.
#
#   test_install.sh SOURCE_ROOT WORK_DIR CC...
#
# Exit 77 (skipped) without pkg-config. The separate build is lean: no
# Vulkan, no OpenBLAS, no PyTorch tests, no optimisation.
set -euo pipefail

src=$1
work=$2
shift 2
cc=("$@")
[ ${#cc[@]} -gt 0 ] || cc=(cc)

if ! command -v pkg-config >/dev/null 2>&1; then
    echo "test_install: pkg-config not found: skipped"
    exit 77
fi

rm -rf "$work"
mkdir -p "$work/elsewhere"
prefix=$work/prefix
build=$work/build
log=$work/build.log

fail() { echo "test_install: FAIL: $*" >&2; exit 1; }

echo "test_install: configure, build and install into $prefix"
if ! meson setup "$build" "$src" --prefix="$prefix" -Dbuildtype=plain \
        -Dvulkan=disabled -Dblas=disabled -Dtorch_tests=disabled >"$log" 2>&1 ||
   ! ninja -C "$build" -j 2 >>"$log" 2>&1 ||
   ! meson install -C "$build" --no-rebuild >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "meson setup, ninja or meson install failed (log: $log)"
fi

pc=$(find "$prefix" -name arg.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no arg.pc under $prefix"
export PKG_CONFIG_PATH=$(dirname "$pc")
pc_prefix=$(pkg-config --variable=prefix arg)
[ "$pc_prefix" = "$prefix" ] || fail "pkg-config found arg.pc with prefix '$pc_prefix', not $prefix"
libdir=$(pkg-config --variable=libdir arg)
includedir=$(pkg-config --variable=includedir arg)
modeldir=$(pkg-config --variable=modeldir arg)
version=$(pkg-config --modversion arg)
echo "test_install: arg.pc $pc: version $version, modeldir $modeldir"

# every public header, every shipped model and the model card
for h in "$src"/codec/include/arg/*.h; do
    cmp -s "$h" "$includedir/arg/$(basename "$h")" || fail "header $(basename "$h") not installed in $includedir/arg"
done
n_models=0
for m in "$src"/models/*.safetensors; do
    cmp -s "$m" "$modeldir/$(basename "$m")" || fail "model $(basename "$m") not installed in $modeldir"
    n_models=$((n_models + 1))
done
[ $n_models -gt 0 ] || fail "no model in $src/models"
cmp -s "$src/models/README.md" "$modeldir/README.md" || fail "the model card is not installed in $modeldir"
echo "test_install: $n_models models and the public headers installed"

# an outside program, built from the installed tree only
cd "$work/elsewhere"
flags=$(pkg-config --cflags --libs arg)
echo "test_install: ${cc[*]} consumer.c $flags"
# -lm is the consumer's own (exp, log10); libarg's flags come from pkg-config alone
# shellcheck disable=SC2086 # flags are words
"${cc[@]}" -std=c11 -Wall -Wextra -pedantic -Werror -o consumer "$src/tests/install/consumer.c" $flags -lm ||
    fail "consumer.c does not build against the installed libarg"
model=$modeldir/arg-s8.safetensors
[ -f "$model" ] || model=$(ls "$modeldir"/*.safetensors | head -n 1)
LD_LIBRARY_PATH=$libdir ./consumer "$model" "$version" || fail "consumer"

# the installed tools find the installed models
if [ -x "$prefix/bin/argenc" ] && [ -x "$prefix/bin/argdec" ]; then
    frames=9 w=64 h=48
    {
        printf 'YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C420jpeg\n' $w $h
        for ((i = 0; i < frames; i++)); do
            printf 'FRAME\n'
            # a ramp that moves: luma, then flat chroma
            awk -v w=$w -v h=$h -v t=$i 'BEGIN { for (y = 0; y < h; y++) for (x = 0; x < w; x++) printf "%c", 40 + (x * 2 + y + 3 * t) % 80 }'
            head -c $((w * h / 2)) /dev/zero | tr '\0' '\200'
        done
    } >clip.y4m
    (
        unset ARG_MODEL_PATH
        export LD_LIBRARY_PATH=$libdir
        "$prefix/bin/argenc" -i clip.y4m -o clip.mkv || fail "installed argenc (no ARG_MODEL_PATH) failed"
        [ -s clip.mkv ] || fail "installed argenc wrote nothing"
        "$prefix/bin/argdec" -i clip.mkv -o dec.y4m || fail "installed argdec (no ARG_MODEL_PATH) failed"
    )
    # 4:2:0 out as in: the header line, then per picture 'FRAME\n' and w*h*3/2 bytes
    want=$(( $(head -n 1 dec.y4m | wc -c) + frames * (6 + w * h * 3 / 2) ))
    got=$(wc -c <dec.y4m)
    [ "$got" = "$want" ] || fail "installed argdec wrote $got bytes, not the $want of $frames pictures"
    echo "test_install: installed argenc and argdec round-trip $frames pictures with their installed models"
else
    echo "test_install: argenc/argdec not built (no Matroska or Opus): tools check skipped"
fi
echo "test_install: OK"
