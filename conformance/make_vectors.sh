#!/usr/bin/env bash
# Regenerate the ARG conformance vectors: for EVERY model in models/*.safetensors,
# the same set of small streams made by argenc from the footage in data/, each
# with its expected results (NAME.expect) and a short README (NAME.md), and an
# index (vectors/README.md). Run it after adding or retraining a model; the
# conformance runner fails while a shipped model has no vectors.
#
#   bash conformance/make_vectors.sh [BUILD_DIR]        (default: build-dev)
#
# Environment: MODELS (default models), DATA (default data), OUT (default
# conformance/vectors). Needs argenc, argdec and conformance/conf_float in
# BUILD_DIR, ffmpeg and xxhsum.
# Streams are encoded and the expected pictures decoded on the builtin GEMM
# (--gemm builtin), whose pictures are the same on every thread count and SIMD
# level (conformance/README.md). The old vectors are replaced only after every
# new one was made; files are moved into place one by one (rename).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in -h|--help) sed -n '2,16p' "$0"; exit 0 ;; esac
build=${1:-build-dev}
models=${MODELS:-models}
data=${DATA:-data}
out=${OUT:-conformance/vectors}
argenc=$build/tools/argenc
argdec=$build/tools/argdec
conf_float=$build/conformance/conf_float

die() { echo "make_vectors: $*" >&2; exit 1; }
[ -x "$argenc" ] && [ -x "$argdec" ] && [ -x "$conf_float" ] ||
    die "no argenc, argdec or conformance/conf_float in $build (build first: meson setup $build && ninja -C $build)"
command -v ffmpeg >/dev/null || die "ffmpeg is needed to cut the inputs"
command -v xxhsum >/dev/null || die "xxhsum is needed (Debian package xxhash)"
for clip in vtest box cup tree; do
    [ -f "$data/$clip.y4m" ] || die "$data/$clip.y4m is missing (bash scripts/fetch_data.sh)"
done
shopt -s nullglob
model_files=()
for mf in "$models"/*.safetensors; do
    case $(basename "$mf") in poet-*) ;; *) model_files+=("$mf") ;; esac  # tokenizers only
done
shopt -u nullglob
[ ${#model_files[@]} -gt 0 ] || die "no model in $models/*.safetensors"

mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
inputs=$(mktemp -d)
cleanup() { rm -rf "$stage" "$inputs"; }
trap cleanup EXIT

# ------------------------------------------------------------------ inputs
# name | source | ffmpeg video filter | pixel format | pictures
# (crops of real footage, scaled to small and odd sizes)
INPUTS=(
    "vtest100x60|vtest|crop=288:176:48:64,scale=100:60|yuv420p|18"
    "vtest100x60x444|vtest|crop=288:176:48:64,scale=100:60|yuv444p|18"
    "cup100x60|cup|crop=240:144:40:48,scale=100:60|yuv420p|5"
    "box100x60|box|crop=240:144:40:40,scale=100:60|yuv420p|18"
    "cup64x48x444|cup|crop=192:144:64:48,scale=64:48|yuv444p|17"
    "box64x48x422full|box|scale=64:48:out_range=full|yuv422p|17"
    "tree33x17|tree|scale=33:17|yuv420p|5"
    "tree160x120|tree|null|yuv420p|17"
)
for spec in "${INPUTS[@]}"; do
    IFS='|' read -r name src vf pixfmt frames <<<"$spec"
    extra=()
    case "$name" in *full) extra=(-color_range pc) ;; esac
    ffmpeg -nostdin -v error -y -i "$data/$src.y4m" -frames:v "$frames" -vf "$vf" -pix_fmt "$pixfmt" \
        "${extra[@]}" -f yuv4mpegpipe -strict -1 "$inputs/$name.y4m" || die "ffmpeg failed on $name"
done
# audio: a stereo 48 kHz two-tone of 1.8 s (vtest, 18 pictures at 10 fps) and a
# mono 16 kHz sweep of 15/7 s (tree, 5 pictures at 7/3 fps)
ffmpeg -nostdin -v error -y -f lavfi -i "aevalsrc=0.5*sin(2*PI*440*t)|0.4*sin(2*PI*660*t)+0.1*sin(2*PI*2500*t):s=48000:d=1.8" \
    -c:a pcm_s16le -bitexact "$inputs/tone48k2.wav" || die "ffmpeg cannot make the stereo tone"
ffmpeg -nostdin -v error -y -f lavfi -i "aevalsrc=0.6*sin(2*PI*(200+300*t)*t):s=16000:d=2.142857" \
    -c:a pcm_s16le -bitexact "$inputs/sweep16k1.wav" || die "ffmpeg cannot make the mono sweep"

# ----------------------------------------------------------------- vectors
# id-suffix | input | argenc options | audio | what it covers (fixed-clip models
# ignore -g: their GOP is one clip; each README gives the actual GOPs)
VECTORS=(
    "01-vtest-100x60-f1|vtest100x60|-g 8 --frames 1||one picture: a single keyframe"
    "02-vtest-100x60-f2|vtest100x60|-g 8 --frames 2||two pictures: the second latent frame stands for one picture of ft"
    "03-cup-100x60-f5|cup100x60|-g 8||five pictures: a keyframe and one full latent frame when ft = 4"
    "04-vtest-100x60-f17-g2|vtest100x60|-g 2 --frames 17||17 pictures with GOPs of two latent frames (streaming models: four GOPs, the last one partial)"
    "05-box-100x60-f18-g3|box100x60|-g 3||18 pictures with GOPs of three latent frames at the NTSC rate 30000/1001"
    "06-cup-64x48-f17-444|cup64x48x444|-g 8||4:4:4 input, 17 pictures (one GOP of 1 + 4 x 4 when ft = 4)"
    "07-vtest-100x60-f18-444-audio|vtest100x60x444|-g 4 -b:a 48k|tone48k2.wav|4:4:4 input with a stereo 48 kHz Opus track, 18 pictures, GOPs of four latent frames"
    "08-tree-33x17-f5-audio|tree33x17|-g 8 -b:a 24k|sweep16k1.wav|odd 33x17 4:2:0 (chroma 17x9) with a mono 16 kHz Opus track, 5 pictures at 7/3 fps"
    "09-tree-160x120-f9-g1|tree160x120|-g 1 --frames 9||the whole 160x120 picture, GOPs of one latent frame (streaming models: each of the 9 pictures is a keyframe)"
    "10-box-64x48-f17-422-bt709-full|box64x48x422full|-g 8 --matrix bt709||4:2:2 full-range input, BT.709 matrix, 17 pictures"
    "11-vtest-100x60-f18-g8|vtest100x60|-g 8||18 pictures with GOPs of eight latent frames: the last latent frame stands for one picture when ft = 4"
)

kv() { sed -n "s/^$1 //p"; }     # value of "KEY value" lines on stdin

made=()
for mf in "${model_files[@]}"; do
    stem=$(basename "$mf" .safetensors)
    case "$stem" in *[!A-Za-z0-9._-]*) die "model file name '$stem' has characters outside [A-Za-z0-9._-]" ;; esac
    for spec in "${VECTORS[@]}"; do
        IFS='|' read -r suffix input opts audio what <<<"$spec"
        name="$stem-$suffix"
        mkv="$stage/$name.mkv"
        # shellcheck disable=SC2206
        encopts=($opts)
        ain=()
        [ -n "$audio" ] && ain=(-i "$inputs/$audio")
        enc_cmd="argenc -i $input.y4m ${audio:+-i $audio }-o $name.mkv -m $mf $opts --gemm builtin --threads 2"
        "$argenc" -i "$inputs/$input.y4m" "${ain[@]}" -o "$mkv" -m "$mf" "${encopts[@]}" --gemm builtin --threads 2 \
            --quiet >"$stage/enc.txt" || die "argenc failed on $name"
        chmod 644 "$mkv"
        dec=$("$argdec" -i "$mkv" -m "$mf" --gemm builtin --threads 1 --verify -o "$stage/dec.y4m" \
              ${audio:+--audio "$stage/dec.wav"} 2>/dev/null) || die "argdec failed on $name"
        tokens=$(echo "$dec" | kv tokens)
        frames=$(echo "$dec" | kv frames)
        pictures=$(echo "$dec" | kv pictures)
        [ "$tokens" = "$(kv tokens <"$stage/enc.txt")" ] || die "$name: argdec decodes other tokens than argenc coded"
        float_pictures=$("$conf_float" "$mf" "$mkv" --hash-only | kv float_hash) || die "conf_float failed on $name"
        [ -n "$float_pictures" ] || die "$name: no float hash from conf_float"
        info=$("$argdec" -i "$mkv" --info) || die "argdec --info failed on $name"
        hdr=$(echo "$info" | sed -n 's/^sequence header: .* model "\(.*\)" id \([0-9a-f]*\)$/\1 \2/p')
        model_name=${hdr% *}
        model_id=${hdr#* }
        geom=$(echo "$info" | sed -n 's/^  picture \([0-9]*x[0-9]*\) (coded \([0-9]*x[0-9]*\)), \([0-9]*\/[0-9]*\) fps, \([0-9]*\) pictures, chroma \([0-9]*\)$/\1 \2 \3 \4 \5/p')
        read -r size coded fps hdr_pictures chroma <<<"$geom"
        counts=$(echo "$info" | sed -n 's/^  \([0-9]*\) packets, \([0-9]*\) GOPs, .*/\1 \2/p')
        read -r latents gops <<<"$counts"
        colour=$(echo "$info" | sed -n 's/^  colour: matrix \([0-9]*\), range \([0-9]*\), .*/\1 \2/p')
        read -r matrix range <<<"$colour"
        [ -n "$model_id" ] && [ -n "$chroma" ] && [ -n "$gops" ] && [ -n "$range" ] || die "$name: cannot read argdec --info"
        [ "$hdr_pictures" = "$pictures" ] || die "$name: header says $hdr_pictures pictures, argdec gave $pictures"
        audio_line=none
        if [ -n "$audio" ]; then
            # WAV: 44-byte header written by argdec; the sample frames follow
            wav_rate=$(od -An -t u4 -j 24 -N 4 "$stage/dec.wav" | tr -d ' ')
            wav_ch=$(od -An -t u2 -j 22 -N 2 "$stage/dec.wav" | tr -d ' ')
            wav_bytes=$(od -An -t u4 -j 40 -N 4 "$stage/dec.wav" | tr -d ' ')
            wav_hash=$(tail -c +45 "$stage/dec.wav" | xxhsum -H3 - | sed -n 's/^XXH3 (stdin) = \([0-9a-f]*\)$/\1/p')
            [ -n "$wav_hash" ] || die "$name: cannot hash the decoded audio"
            # the decoded length must be the input's, in 48 kHz samples
            [ "$(dd if="$inputs/$audio" bs=1 skip=36 count=4 2>/dev/null)" = data ] || die "$audio: unexpected WAV layout"
            in_rate=$(od -An -t u4 -j 24 -N 4 "$inputs/$audio" | tr -d ' ')
            in_frames=$(( $(od -An -t u4 -j 40 -N 4 "$inputs/$audio" | tr -d ' ') / (2 * wav_ch) ))
            want=$(( (in_frames * 48000 + in_rate - 1) / in_rate ))
            [ "$wav_rate" = 48000 ] && [ $((wav_bytes / (2 * wav_ch))) -eq $want ] ||
                die "$name: decoded audio has $((wav_bytes / (2 * wav_ch))) samples at $wav_rate Hz, want $want at 48000 Hz"
            audio_line="$wav_rate $wav_ch $((wav_bytes / (2 * wav_ch))) $wav_hash"
        fi
        cat >"$stage/$name.expect" <<EOF
# ARG conformance vector $name: expected results (written by conformance/make_vectors.sh)
stream $name.mkv
model $model_name
model_id $model_id
size $size
coded $coded
fps $fps
chroma $chroma
matrix $matrix
range $range
pictures $pictures
latent_frames $latents
gops $gops
tokens $tokens
frames $frames
float_pictures $float_pictures
audio $audio_line
EOF
        {
            echo "# $name"
            echo
            echo "$what."
            echo
            echo "| | |"
            echo "| --- | --- |"
            echo "| stream | \`$name.mkv\`, $(stat -c %s "$mkv") bytes |"
            echo "| model | \`$model_name\`, ID \`$model_id\` (\`$mf\`) |"
            echo "| pictures | $pictures of $size (coded $coded), $fps fps, input chroma $chroma, matrix $matrix, range $range |"
            echo "| latent frames | $latents in $gops GOP(s) |"
            echo "| source | \`$input.y4m\`: $(for s in "${INPUTS[@]}"; do IFS='|' read -r n src vf pf fr <<<"$s"; [ "$n" = "$input" ] && echo "data/$src.y4m, first $fr pictures, ffmpeg \`-vf $vf -pix_fmt $pf\`"; done) |"
            if [ -n "$audio" ]; then
                echo "| audio | \`$audio\` coded to Opus; decodes to $audio_line (rate, channels, sample frames, XXH3-64 of the PCM) |"
            else
                echo "| audio | none |"
            fi
            echo "| made with | \`$enc_cmd\` |"
            echo "| tokens | XXH3-64 \`$tokens\` (exact on every decoder) |"
            echo "| pictures | XXH3-64 \`$frames\` of the 8-bit Y4M planes (exact on the builtin CPU path; others within 1) |"
            echo "| float pictures | XXH3-64 \`$float_pictures\` of the float RGB output (builtin CPU path; \`conf_float\`) |"
            echo
            echo "Check: \`argdec -i $name.mkv -m $mf --gemm builtin --verify\` prints these two hashes;"
            echo "\`meson test --suite conformance\` runs every check (conformance/README.md)."
        } >"$stage/$name.md"
        rm -f "$stage/dec.y4m" "$stage/dec.wav" "$stage/enc.txt"
        made+=("$name")
        printf '%-48s %6d bytes  tokens %s  frames %s\n' "$name" "$(stat -c %s "$mkv")" "$tokens" "$frames"
    done
done

# index
{
    echo "# ARG conformance vectors"
    echo
    echo "Made by \`conformance/make_vectors.sh\` (do not edit by hand). Each vector is \`NAME.mkv\`,"
    echo "its expected results \`NAME.expect\` and its README \`NAME.md\`; conformance/README.md says"
    echo "what is checked."
    echo
    echo "| vector | bytes | pictures | latent frames / GOPs | covers |"
    echo "| --- | --- | --- | --- | --- |"
    for name in "${made[@]}"; do
        e="$stage/$name.expect"
        cover=$(sed -n '3p' "$stage/$name.md")
        echo "| [$name]($name.md) | $(stat -c %s "$stage/$name.mkv") | $(kv pictures <"$e") of $(kv size <"$e") | $(kv latent_frames <"$e") / $(kv gops <"$e") | $cover |"
    done
} >"$stage/README.md"

# replace the old set: remove vectors that are no longer made, then move the
# new files into place
for f in "$out"/*.mkv "$out"/*.expect "$out"/*.md; do
    [ -f "$f" ] || continue
    base=$(basename "$f")
    [ -e "$stage/$base" ] || rm -f -- "$f"
done
for f in "$stage"/*.mkv "$stage"/*.expect "$stage"/*.md; do
    mv -f -- "$f" "$out/"
done
total=$(cat "$out"/*.mkv | wc -c)
echo "make_vectors: ${#made[@]} vectors for ${#model_files[@]} model(s) in $out, $total bytes of streams"
