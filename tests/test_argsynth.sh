#!/bin/sh
# argsynth end to end: a small stream made by argenc with the shipped arg-s8
# tokenizer, a random-weight poet whose tokenizer_id matches it (made by
# test_synth --make-model, no PyTorch), then every task; the outputs must
# decode with argdec and have the requested length. Malformed arguments and
# a poet of another tokenizer must be refused with clear messages.
# usage: test_argsynth.sh BUILD_TOOLS_DIR TEST_SYNTH SRCDIR WORKDIR
set -u
tools=$1 tsynth=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok; else ko "$1"; fi; }
tok() { "$tools/argdec" -i "$1" --verify --quiet | sed -n 's/^tokens //p'; }
pictures() { "$tools/argdec" -i "$1" -o "$work/dec.y4m" -y --quiet >/dev/null 2>&1 && grep -c FRAME "$work/dec.y4m"; }
# pictures from the packet table alone (no picture decoding)
packet_pictures() { "$tools/argdec" -i "$1" --info | awk '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9.]+$/ { n += ($3 == "key") ? $4 : $3 } END { print n }'; }

# 21 pictures of 64x48 (a moving pattern), 0.84 s of audio
clip="$work/clip.y4m"
LC_ALL=C awk 'BEGIN { printf "YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n";
    for (f = 0; f < 21; f++) { printf "FRAME\n";
        for (y = 0; y < 48; y++) for (x = 0; x < 64; x++) printf "%c", 16 + (x * 3 + y * 2 + f * 5) % 200;
        for (i = 0; i < 2 * 32 * 24; i++) printf "%c", 128 + (i % 32) - 16 }}' > "$clip"
wav="$work/a.wav"
LC_ALL=C awk 'function w32(v) { printf "%c%c%c%c", v % 256, int(v / 256) % 256, int(v / 65536) % 256, int(v / 16777216) }
    function w16(v) { printf "%c%c", v % 256, int(v / 256) % 256 }
    BEGIN { n = 40320; printf "RIFF"; w32(36 + 2 * n); printf "WAVEfmt "; w32(16); w16(1); w16(1); w32(48000);
        w32(96000); w16(2); w16(16); printf "data"; w32(2 * n);
        for (i = 0; i < n; i++) w16((i * 37) % 4096) }' > "$wav"
in="$work/in.mkv"
"$tools/argenc" -i "$clip" -i "$wav" -o "$in" -m "$src/models/arg-s8.safetensors" -g 3 --threads 2 --quiet -y \
    >/dev/null || { echo "argenc cannot make the test stream"; exit 1; }
id=$("$tools/argdec" -i "$in" --info | sed -n 's/^sequence header: .* id \([0-9a-f]*\)$/\1/p')
check "stream has a tokenizer id ($id)" '[ ${#id} = 16 ]'
poet="$work/poet.safetensors"
"$tsynth" --make-model "$poet" "$id" || { echo "cannot make a poet model"; exit 1; }
"$tsynth" --make-model "$work/other.safetensors" 0123456789abcdef || exit 1
S="$tools/argsynth --poet $poet --quiet"

# continuation: the input (its last latent frame completed to 4 pictures: 23) + 1 s = 48 pictures
$S -i "$in" --continue 1s -o "$work/cont.mkv" --seed 1 --threads 2 2>"$work/err"
check "continue exits 0 ($(cat "$work/err"))" '[ $? = 0 ]'
check "continue: 48 pictures decoded" '[ "$(pictures "$work/cont.mkv")" = 48 ]'
check "continue: header says 48 pictures" '"$tools/argdec" -i "$work/cont.mkv" --info | grep -q ", 48 pictures,"'
check "continue: GOPs of 3 latent frames go on" '[ "$("$tools/argdec" -i "$work/cont.mkv" --info | grep -cE "^ +[0-9]+ +[0-9.]+ +key ")" = 6 ]'
check "continue: audio decodes" '"$tools/argdec" -i "$work/cont.mkv" --audio "$work/cont.wav" -y --quiet && [ -s "$work/cont.wav" ]'
if command -v mkvmerge >/dev/null 2>&1; then
    check "continue: mkvmerge reads the file without errors, video and audio" \
        'mkvmerge -J "$work/cont.mkv" | grep -q "\"errors\": \[\]" && mkvmerge -J "$work/cont.mkv" | grep -q A_OPUS'
fi
if command -v ffprobe >/dev/null 2>&1; then
    check "continue: ffprobe reads the file" 'ffprobe -v error "$work/cont.mkv" 2>&1 | wc -c | grep -qx 0'
fi
$S -i "$in" --continue 1s -o "$work/cont1.mkv" --seed 1 --threads 1 || ko "continue 1 thread"
check "same seed, 1 and 2 threads: the same tokens" '[ "$(tok "$work/cont.mkv")" = "$(tok "$work/cont1.mkv")" ]'
$S -i "$in" --continue 1s -o "$work/cont2.mkv" --seed 2 || ko "continue seed 2"
check "another seed: other tokens" '[ "$(tok "$work/cont.mkv")" != "$(tok "$work/cont2.mkv")" ]'
$S -i "$in" --continue 0.4 --from 0.4 -o "$work/from.mkv" --temperature 0 || ko "continue --from"
check "continue --from 0.4 s: 10 kept + 10 made = 20 pictures" '[ "$(pictures "$work/from.mkv")" = 20 ]'
check "continue --from: audio cut with the video" '"$tools/argdec" -i "$work/from.mkv" --audio "$work/from.wav" -y --quiet &&
    [ "$(wc -c < "$work/from.wav")" -lt "$(wc -c < "$wav")" ]'

# inpainting, outpainting, interpolation keep the length
for task in "--inpaint 16,8,24,16@0.2-0.5" "--outpaint 8,8,40,24@0.2-0.6" "--interpolate 0.1,0.5" "--inpaint 0,0,64,48@0-1"; do
    $S -i "$in" $task -o "$work/t.mkv" -y --top-k 8 --top-p 0.9 2>"$work/err"
    check "$task exits 0 ($(cat "$work/err"))" '[ $? = 0 ]'
    check "$task: 21 pictures" '[ "$(packet_pictures "$work/t.mkv")" = 21 ]'
    check "$task: tokens changed" '[ "$(tok "$work/t.mkv")" != "$(tok "$in")" ]'
done
# a box outside the chosen time changes nothing: the stream is coded again to the same tokens
$S -i "$in" --measure > "$work/measure.txt" 2>&1
check "--measure prints both rates" 'grep -q "bits/token; range coder: .* bits/token" "$work/measure.txt"'

# refusals (exit status and message)
refuse() { # NAME STATUS TEXT ARGS...
    name=$1 want=$2 text=$3
    shift 3
    "$@" >"$work/out" 2>"$work/err"
    st=$?
    check "$name: exit $st (want $want)" '[ $st = $want ]'
    check "$name: says '$text' ($(cat "$work/err"))" 'grep -q -- "$text" "$work/err"'
}
refuse "other tokenizer" 1 "was trained on the tokens of tokenizer 0123456789abcdef" \
    "$tools/argsynth" --poet "$work/other.safetensors" -i "$in" --continue 1 -o "$work/x.mkv"
refuse "box without time" 2 "wants X,Y,W,H@T0-T1" $S -i "$in" --inpaint 1,2,3,4 -o "$work/x.mkv"
refuse "box of 3 numbers" 2 "wants X,Y,W,H@T0-T1" $S -i "$in" --inpaint 1,2,3@0-1 -o "$work/x.mkv"
refuse "box with empty time range" 2 "wants X,Y,W,H@T0-T1" $S -i "$in" --outpaint 1,2,3,4@1-1 -o "$work/x.mkv"
refuse "interpolate one time" 2 "wants T0,T1" $S -i "$in" --interpolate 0.5 -o "$work/x.mkv"
refuse "two tasks" 2 "give one of" $S -i "$in" --continue 1 --interpolate 0,0.5 -o "$work/x.mkv"
refuse "no task" 2 "nothing to do" $S -i "$in" -o "$work/x.mkv"
refuse "no output" 2 "no output" $S -i "$in" --continue 1
refuse "top-p 0" 2 "top-p" $S -i "$in" --continue 1 --top-p 0 -o "$work/x.mkv"
refuse "negative duration" 2 "continue" $S -i "$in" --continue -1 -o "$work/x.mkv"
refuse "interpolate adjacent" 2 "no latent frame lies between" $S -i "$in" --interpolate 0.05,0.2 -o "$work/x.mkv"
refuse "interpolate beyond the anchor reach" 2 "anchor_max" $S -i "$in" --interpolate 0,0.8 -o "$work/x.mkv"
refuse "outpaint box holds no token" 2 "holds no whole token" $S -i "$in" --outpaint 1,1,8,8@0-1 -o "$work/x.mkv"
refuse "inpaint after the end" 2 "holds no latent frame" $S -i "$in" --inpaint 0,0,8,8@5-6 -o "$work/x.mkv"
refuse "missing poet" 1 "not found" "$tools/argsynth" --poet "$work/none.safetensors" -i "$in" --continue 1 -o "$work/x.mkv"
refuse "existing output" 1 "exists" $S -i "$in" --continue 1 -o "$work/cont.mkv"
refuse "not a stream" 1 "clip.y4m" $S -i "$clip" --continue 1 -o "$work/x.mkv"
check "no partial output left" '[ ! -e "$work/x.mkv" ] && ! ls "$work" | grep -q "tmp"'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
