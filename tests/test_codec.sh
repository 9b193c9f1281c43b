#!/bin/sh
# argenc -> .mkv -> argdec, end to end, on a generated odd-sized clip.
# usage: test_codec.sh BUILD_TOOLS_DIR PYTHON SRCDIR WORKDIR
set -u
tools=$1 py=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok; else ko "$1"; fi; }

model="$work/compact-s7.safetensors"
other="$work/compact-s8.safetensors"
"$py" "$src/tools/train/make_parity.py" --config compact --seed 7 --frames 1 --height 8 --width 8 \
    --out-model "$model" --out-vectors "$work/v7.safetensors" >/dev/null || { echo "cannot make a model"; exit 1; }
"$py" "$src/tools/train/make_parity.py" --config compact --seed 8 --frames 1 --height 8 --width 8 \
    --out-model "$other" --out-vectors "$work/v8.safetensors" >/dev/null || exit 1

# 23 pictures of 70x46 (not multiples of 8; 23 is not 1+4k), 4:2:0 and 4:4:4
for cs in 420 444; do
    clip="$work/clip$cs.y4m"
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=70x46:rate=25,format=yuv${cs}p" -frames:v 23 -f yuv4mpegpipe -strict -1 "$clip" \
        || { echo "ffmpeg cannot make the test clip"; exit 1; }
    mkv="$work/clip$cs.mkv"
    enc=$("$tools/argenc" -i "$clip" -o "$mkv" -m "$model" -g 3 --threads 2 --quiet) || ko "argenc $cs"
    etok=$(echo "$enc" | sed -n 's/^tokens //p')
    dec=$("$tools/argdec" -i "$mkv" -m "$model" -o "$work/dec$cs.y4m" --verify --threads 1) || ko "argdec $cs"
    dtok=$(echo "$dec" | sed -n 's/^tokens //p')
    dfr=$(echo "$dec" | sed -n 's/^frames //p')
    check "tokens after the round trip ($cs): enc $etok dec $dtok" '[ -n "$etok" ] && [ "$etok" = "$dtok" ]'
    check "23 pictures decoded ($cs)" '[ "$(grep -c FRAME "$work/dec$cs.y4m")" = 23 ]'
    check "size 70x46 kept ($cs)" 'head -c 80 "$work/dec$cs.y4m" | grep -q "W70 H46"'
    c=$(echo "$cs" | sed 's/420/420/')
    check "chroma $cs kept" 'head -c 80 "$work/dec$cs.y4m" | grep -q "C$cs"'
    dec2=$("$tools/argdec" -i "$mkv" -m "$model" --verify --threads 2)
    check "2 threads decode the same tokens and pictures ($cs)" '[ "$(echo "$dec2" | sed -n "s/^tokens //p;s/^frames //p")" = "$(echo "$dec" | sed -n "s/^tokens //p;s/^frames //p")" ]'
done
mkv="$work/clip420.mkv"
# seek: 25 fps, GOP of 3 latent frames = 9 pictures; -ss 0.5 s = picture 12.5 -> output starts at picture 13
s=$("$tools/argdec" -i "$mkv" -m "$model" -ss 0.5 --verify | sed -n 's/^pictures //p')
check "seek -ss 0.5 outputs the 10 pictures from 0.52 s (got $s)" '[ "$s" = 10 ]'
"$tools/argdec" -i "$mkv" -m "$model" -ss 0.5 -o "$work/seek.y4m" 2>/dev/null
# the sought pictures equal the same pictures of the full decode (frame 13 onwards)
"$py" - "$work/dec420.y4m" "$work/seek.y4m" <<'PY' && ok || ko "sought pictures differ from the full decode"
import sys
def frames(p):
    d = open(p, 'rb').read()
    parts = d.split(b'FRAME\n')
    return parts[1:]
a, b = frames(sys.argv[1]), frames(sys.argv[2])
sys.exit(0 if a[13:] == b else 1)
PY
check "--frames 5" '[ "$("$tools/argdec" -i "$mkv" -m "$model" --frames 5 --verify | sed -n "s/^pictures //p")" = 5 ]'
# 23 pictures, GOPs of 3 latent frames (9 pictures): 3 + 3 + 2 latent frames
check "argdec --info lists 8 packets and 3 GOPs" '"$tools/argdec" -i "$mkv" --info | grep -q "8 packets, 3 GOPs"'
# independent clients
if command -v mkvmerge >/dev/null; then
    check "mkvmerge identifies V_ARG" 'mkvmerge -J "$mkv" | grep -q "\"codec_id\": \"V_ARG\""'
fi
if command -v ffprobe >/dev/null; then
    check "ffprobe reads the size" '[ "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$mkv")" = "72,48" ] || ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$mkv" | grep -q "7[02],4[68]"'
fi
# the wrong model is refused, naming both; --force overrides
msg=$("$tools/argdec" -i "$mkv" -m "$other" -o "$work/x.y4m" 2>&1); rc=$?
check "wrong model refused (rc $rc)" '[ $rc -ne 0 ] && echo "$msg" | grep -q "random-compact-s7" && echo "$msg" | grep -q "random-compact-s8"'
check "no output file after a refusal" '[ ! -e "$work/x.y4m" ]'
check "--force decodes with another model" '"$tools/argdec" -i "$mkv" -m "$other" --force --verify >/dev/null'
# corrupt and truncated files: clean error, no crash (exit code 1, not a signal)
size=$(stat -c %s "$mkv")
for cut in 10 200 $((size / 2)) $((size - 7)); do
    head -c $cut "$mkv" > "$work/cut.mkv"
    "$tools/argdec" -i "$work/cut.mkv" -m "$model" --verify >/dev/null 2>"$work/stderr"; rc=$?
    check "truncated at $cut: exit $rc is not a crash" '[ $rc -lt 128 ] && ! grep -qE "Sanitizer|runtime error" "$work/stderr"'
done
for off in 300 600 900 1200; do
    cp "$mkv" "$work/bad.mkv"
    printf '\377\377\377\377' | dd of="$work/bad.mkv" bs=1 seek=$off conv=notrunc 2>/dev/null
    "$tools/argdec" -i "$work/bad.mkv" -m "$model" --verify >/dev/null 2>"$work/stderr"; rc=$?
    check "corrupted at $off: exit $rc is not a crash" '[ $rc -lt 128 ] && ! grep -qE "Sanitizer|runtime error" "$work/stderr"'
done
# the decoder reproduces the encoder's own reconstruction: argtok codes the clip
# as one sequence, which is argenc with a GOP longer than the clip
"$tools/argenc" -i "$work/clip444.y4m" -o "$work/onegop.mkv" -m "$model" -g 100 --quiet >/dev/null || ko "argenc -g 100"
"$tools/argdec" -i "$work/onegop.mkv" -m "$model" -o "$work/onegop.y4m" 2>/dev/null || ko "argdec one GOP"
# outputs get the usual 0666 & ~umask, not mkstemp's 0600
mode=$(umask 022 && "$tools/argenc" -i "$work/clip444.y4m" -o "$work/mode.mkv" -m "$model" --frames 2 \
       --stats "$work/mode.json" --quiet >/dev/null && stat -c %a "$work/mode.mkv" "$work/mode.json" | tr '\n' ' ')
check "argenc outputs are 0644 under umask 022 (got $mode)" '[ "$mode" = "644 644 " ]'
"$tools/argtok" -i "$work/clip444.y4m" -m "$model" -o "$work/argtok.y4m" -y --quiet >/dev/null 2>&1 || ko "argtok"
"$py" - "$work/onegop.y4m" "$work/argtok.y4m" <<'PY' && ok || ko "argdec pictures differ from the encoder's reconstruction"
import sys
def frames(p):
    return open(p, 'rb').read().split(b'FRAME\n')[1:]
a, b = frames(sys.argv[1]), frames(sys.argv[2])
diff = max((max(abs(x - y) for x, y in zip(fa, fb)) for fa, fb in zip(a, b)), default=0)
print("reconstruction: %d vs %d pictures, max 8-bit difference %d" % (len(a), len(b), diff))
sys.exit(0 if len(a) == len(b) == 23 and diff <= 1 else 1)
PY
# standard input and output
cat "$work/clip420.y4m" | "$tools/argenc" -i - -o "$work/stdin.mkv" -m "$model" -g 3 --quiet > "$work/stdin.txt" || ko "argenc -i -"
check "stdin gives the same tokens" '[ "$(sed -n "s/^tokens //p" "$work/stdin.txt")" = "$(echo "$enc" | sed -n "s/^tokens //p")" ] || [ "$(sed -n "s/^tokens //p" "$work/stdin.txt")" = "$("$tools/argenc" -i "$work/clip420.y4m" -o "$work/again.mkv" -m "$model" -g 3 --quiet | sed -n "s/^tokens //p")" ]'
check "argdec -o - writes Y4M to stdout" '[ "$("$tools/argdec" -i "$work/stdin.mkv" -m "$model" -o - 2>/dev/null | head -c 9)" = "YUV4MPEG2" ]'
# audio: a 0.92 s tone (the clip is 23 pictures at 25 fps) coded to Opus and back
ffmpeg -v error -y -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=0.92" -ac 2 "$work/tone.wav"
"$tools/argenc" -i "$work/clip420.y4m" -i "$work/tone.wav" -b:a 96k -o "$work/av.mkv" -m "$model" --quiet >/dev/null \
    || ko "argenc with audio"
"$tools/argdec" -i "$work/av.mkv" -m "$model" -o "$work/av.y4m" --audio "$work/av.wav" 2>/dev/null || ko "argdec --audio"
"$py" - "$work/tone.wav" "$work/av.wav" <<'PY' && ok || ko "decoded audio: length or SNR"
import math, struct, sys, wave
a, b = wave.open(sys.argv[1]), wave.open(sys.argv[2])
na, nb = a.getnframes(), b.getnframes()
x = struct.unpack('<%dh' % (na * 2), a.readframes(na))
y = struct.unpack('<%dh' % (nb * 2), b.readframes(nb))
err = sum((p - q) ** 2 for p, q in zip(x, y)) / len(x)
snr = 10 * math.log10(sum(v * v for v in x) / len(x) / max(err, 1e-9))
print("audio: %d -> %d samples, SNR %.1f dB" % (na, nb, snr))
sys.exit(0 if na == nb and snr > 20 else 1)
PY
check "video frames kept with audio" '[ "$(grep -c FRAME "$work/av.y4m")" = 23 ]'
check "ffmpeg decodes the Opus track" 'ffmpeg -v error -y -i "$work/av.mkv" -map 0:a -f wav "$work/av_ff.wav"'
check "ffprobe sees opus and the ARG track" '[ "$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$work/av.mkv" | sort | tr "\n" " ")" = "audio video " ]'
d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/av.mkv")
check "A/V duration 0.92 s (got $d)" 'echo "$d" | grep -q "^0\.9[12]"'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
