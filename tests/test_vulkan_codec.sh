#!/bin/sh
# argenc/argdec with --backend vulkan against --backend cpu on a small clip
# with the shipped model: identical tokens; decoded pictures within one
# 8-bit level; the fallback to the CPU when no device is usable says so in
# one line and still gives the same tokens. Exits 77 (skipped) without a
# usable Vulkan device.
# usage: test_vulkan_codec.sh BUILD_TOOLS_DIR SRCDIR WORKDIR
set -u
tools=$1 src=$2 work=$3
mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok; else ko "$1"; fi; }

"$tools/argbench" --list-devices | grep -q -v "unusable\|no Vulkan" || { echo "SKIP: no usable Vulkan device"; exit 77; }
model="$src/models/arg-s8.safetensors"
clip="$work/clip.y4m"
# 9 pictures of 100x60 (not multiples of 8: the encoder pads)
ffmpeg -v error -y -f lavfi -i "testsrc2=size=100x60:rate=25,format=yuv420p" -frames:v 9 -f yuv4mpegpipe "$clip" \
    || { echo "ffmpeg cannot make the test clip"; exit 1; }

for b in cpu vulkan; do
    "$tools/argenc" -y -i "$clip" -o "$work/$b.mkv" -m "$model" -g 2 --backend $b --quiet > "$work/enc-$b.txt" 2> "$work/enc-$b.err" \
        || ko "argenc --backend $b: $(cat "$work/enc-$b.err")"
    "$tools/argdec" -y -i "$work/$b.mkv" -m "$model" -o "$work/dec-$b.y4m" --verify --backend $b --gemm builtin > "$work/dec-$b.txt" 2> "$work/dec-$b.err" \
        || ko "argdec --backend $b: $(cat "$work/dec-$b.err")"
done
tok() { sed -n 's/^tokens //p' "$1"; }
check "no validation-layer message" '! grep -q "vulkan validation" "$work/enc-vulkan.err" "$work/dec-vulkan.err"'
check "argenc ran on Vulkan" 'grep -q "backend vulkan" "$work/enc-vulkan.txt"'
check "argdec ran on Vulkan" 'grep -q "on vulkan" "$work/dec-vulkan.err"'
check "argenc tokens: cpu $(tok "$work/enc-cpu.txt") vulkan $(tok "$work/enc-vulkan.txt")" \
    '[ -n "$(tok "$work/enc-cpu.txt")" ] && [ "$(tok "$work/enc-cpu.txt")" = "$(tok "$work/enc-vulkan.txt")" ]'
check "both streams decode (on either backend) to the encoder's tokens" \
    '[ "$(tok "$work/dec-cpu.txt")" = "$(tok "$work/enc-cpu.txt")" ] && [ "$(tok "$work/dec-vulkan.txt")" = "$(tok "$work/enc-cpu.txt")" ]'
check "9 pictures decoded on each backend" '[ "$(sed -n "s/^pictures //p" "$work/dec-cpu.txt")" = 9 ] && [ "$(sed -n "s/^pictures //p" "$work/dec-vulkan.txt")" = 9 ]'
# decoded pictures: within one 8-bit level (float results within 1e-3 of each other)
python3 - "$work/dec-cpu.y4m" "$work/dec-vulkan.y4m" <<'PY' && ok || ko "decoded pictures differ by more than one level"
import sys
a, b = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
if len(a) != len(b) or a.split(b'\n', 1)[0] != b.split(b'\n', 1)[0]:
    sys.exit(1)
worst = max(abs(x - y) for x, y in zip(a, b))
same = sum(x == y for x, y in zip(a, b)) / len(a)
print("decoded y4m: max byte difference %d, %.4f of the bytes identical" % (worst, same))
sys.exit(0 if worst <= 1 and same > 0.99 else 1)
PY

# no usable device: one clear line, then the CPU, same tokens
for how in "VK_ICD_FILENAMES=$work/none.json VK_DRIVER_FILES=$work/none.json" "ARG_DEVICE=77"; do
    env $how "$tools/argenc" -y -i "$clip" -o "$work/fb.mkv" -m "$model" -g 2 --backend vulkan --quiet > "$work/fb.txt" 2> "$work/fb.err"
    rc=$?
    check "fallback ($how): exit $rc, tokens equal the CPU's" '[ $rc = 0 ] && [ "$(tok "$work/fb.txt")" = "$(tok "$work/enc-cpu.txt")" ]'
    check "fallback ($how): one line on stderr saying so: $(cat "$work/fb.err")" \
        '[ "$(wc -l < "$work/fb.err")" = 1 ] && grep -q "^arg: Vulkan backend unavailable (.*); using the CPU$" "$work/fb.err"'
    check "fallback ($how): the CPU ran" 'grep -q "backend cpu" "$work/fb.txt"'
done
# auto never takes a software device: lavapipe alone means the CPU
if "$tools/argbench" --list-devices | grep -q "(CPU," && ! "$tools/argbench" --list-devices | grep -q "GPU,"; then
    "$tools/argenc" -y -i "$clip" -o "$work/auto.mkv" -m "$model" --backend auto --quiet > "$work/auto.txt" 2>&1
    check "auto picks the CPU when the only device is a CPU implementation" 'grep -q "backend cpu" "$work/auto.txt"'
fi
# a damaged pipeline cache file is ignored (its header is checked) and replaced atomically
cache="$work/pipeline-cache.bin"
head -c 4096 /dev/urandom > "$cache"
printf '\040\000\000\000\001\000\000\000' | dd of="$cache" conv=notrunc 2>/dev/null  # a plausible size and version
ARG_VK_PIPELINE_CACHE="$cache" "$tools/argenc" -y -i "$clip" -o "$work/pc.mkv" -m "$model" -g 2 --backend vulkan --quiet > "$work/pc.txt" 2>&1
check "damaged pipeline cache: same tokens" '[ "$(tok "$work/pc.txt")" = "$(tok "$work/enc-cpu.txt")" ]'
check "damaged pipeline cache: rewritten with a valid header" \
    '[ "$(od -An -tu4 -N8 "$cache" | tr -s " ")" = " 32 1" ] && [ -z "$(ls "$work" | grep "pipeline-cache.bin.tmp")" ]'
# bad values are refused
"$tools/argenc" -y -i "$clip" -o "$work/x.mkv" -m "$model" --backend gpu > /dev/null 2> "$work/bad.err"
check "--backend gpu refused" '[ $? = 2 ] && grep -q "cpu, vulkan or auto" "$work/bad.err"'
"$tools/argdec" -y -i "$work/cpu.mkv" -m "$model" --verify --device x > /dev/null 2> "$work/bad.err"
check "--device x refused" '[ $? = 2 ] && grep -q "device number" "$work/bad.err"'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
