#!/bin/bash
# argdec's output through FFmpeg's libraries (issue 13, the output side):
# a short clip with audio, coded with argenc, decoded to .mp4, .mkv, .webm
# and .mov. ffprobe and the ffmpeg CLI are the independent judges: codecs,
# picture count, frame rate, duration, both streams, audio as long as the
# video (within one picture), colour description, a clean decode, PSNR
# against argdec's own Y4M; pipes (-o - -f yuv4mpegpipe / matroska / mp4);
# -ss and --frames with audio; refused requests.
# usage: test_transcode_out.sh BUILD_TOOLS_DIR SRCDIR WORKDIR HAVE_LIBAV(true|false)
# Exit 77 (skipped) without FFmpeg's libraries or the ffmpeg/ffprobe CLI.
set -u
tools=$(cd "$1" && pwd) src=$(cd "$2" && pwd) work=$3 have_libav=$4
enc=$tools/argenc dec=$tools/argdec
model=$src/models/arg-s16.safetensors
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
if [ "$have_libav" != true ]; then
    # the Y4M/WAV build must say so plainly
    ffmpeg -v error -f lavfi -i "testsrc2=size=64x48:rate=25" -frames:v 4 -pix_fmt yuv420p -f yuv4mpegpipe a.y4m &&
        "$enc" -i a.y4m -m "$model" -o a.mkv --quiet &&
        { "$dec" -i a.mkv -o a.mp4 2>err; [ $? = 1 ] && grep -q "only Y4M" err; } ||
        { echo "FAIL: argdec without libav does not refuse .mp4 plainly"; exit 1; }
    echo "no FFmpeg libraries: only the refusal checked"
    exit 77
fi
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { echo "no ffmpeg/ffprobe"; exit 77; }

pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
# expect RC NAME CMD...
expect() {
    want=$1 name=$2
    shift 2
    "$@" >out 2>err </dev/null
    got=$?
    [ "$got" = "$want" ] && ok || ko "$name: exit $got, want $want ($(head -c 400 err))"
}
err_has() { grep -q -F -- "$1" err && ok || ko "stderr lacks '$1': $(head -c 300 err)"; }
# probe FILE|- STREAM KEY: one value from ffprobe (a:0 / v:0), counting frames
probe() {
    ffprobe -v error -select_streams "$2" -count_frames -show_entries "stream=$3" -of default=nw=1:nk=1 "$1" | head -1
}
# probe_all FILE: v_KEY and a_KEY shell variables of the first video and
# audio streams, and duration (two ffprobe runs)
probe_all() {
    local s k
    for s in v a; do
        for k in codec_name nb_read_frames r_frame_rate width height color_space color_range start_time \
                 sample_rate channels pix_fmt; do
            eval "${s}_$k="
        done
        eval "$(ffprobe -v error -select_streams $s:0 -count_frames -show_entries stream=codec_name,nb_read_frames,\
r_frame_rate,width,height,color_space,color_range,start_time,sample_rate,channels,pix_fmt -of default=nw=1 "$1" |
                sed -n "s/^\([a-z_]*\)=\([A-Za-z0-9_./:-]*\)\$/${s}_\1='\2'/p")"
    done
    duration=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$1")
}
# audio_samples FILE: 48 kHz samples ffmpeg decodes (pre-skip and end trimming applied)
audio_samples() {
    echo $(( $(ffmpeg -v error -i "$1" -map 0:a:0 -f s16le -ac 1 -ar 48000 - | wc -c) / 2 ))
}
# near A B TOL: |A - B| <= TOL (awk arithmetic)
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= t) }'; }
# measure FILE: one ffmpeg run over the pictures (against ref.y4m): psnr
# (from the psnr filter's mean squared error) and flash (when the picture
# brightens most, from signalstats); one over the sound: samples (48 kHz,
# as ffmpeg decodes them: pre-skip and end trimming applied) and beep (when
# the sound starts, from silencedetect)
measure() {
    rm -f psnr.log y.log s.log
    ffmpeg -v error -i "$1" -i ref.y4m -lavfi "[0:v]split[a][b];[a][1:v]psnr=stats_file=psnr.log;
        [b]signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=y.log,nullsink" -f null - 2>/dev/null
    psnr=$(awk -F'mse_avg:' 'NF > 1 { split($2, v, " "); s += v[1]; n++ }
                             END { if (n) print (s ? 10 * log(255 * 255 * n / s) / log(10) : "inf") }' psnr.log 2>/dev/null)
    flash=$(grep -oE "pts_time:[0-9.]+|YAVG=[0-9.]+" y.log 2>/dev/null |
        awk -F'[:=]' '/pts_time/ { t = $2; next }
                      { if (n++ && $2 - prev > best) { best = $2 - prev; bt = t } prev = $2 }
                      END { print bt }')
    samples=$(( $(ffmpeg -v error -i "$1" -map 0:a:0 -af "silencedetect=n=-30dB:d=0.05,
        ametadata=print:key=lavfi.silence_end:file=s.log" -f s16le -ac 1 -ar 48000 - | wc -c) / 2 ))
    beep=$(sed -n 's/^lavfi.silence_end=//p' s.log 2>/dev/null | head -1)
}
# in_sync FILE FLASH_PICTURE: the flash at its picture (within half a
# picture), the beep with it (within 25 ms; after measure FILE)
in_sync() {
    local f=$flash a=$beep want
    want=$(awk -v a=$num -v b=$den -v n="$2" 'BEGIN { printf "%.6f", n * b / a }')
    echo "$1: flash at $f s (picture $2: $want s), beep at $a s"
    near "$f" "$want" "$(awk -v p="$pic" 'BEGIN { print p / 2 }')" && ok || ko "$1: flash at '$f' s, want $want s"
    near "$a" "$f" 0.025 && ok || ko "$1: beep at '$a' s, flash at '$f' s: out of sync"
}

# ---- the clip: the first 17 pictures of data/tree.y4m (160x120 at 7/3
# fps, real foliage) when fetched, else ffmpeg's test pattern at 24000/1001
# fps; pictures 9-12 (one latent frame) flashed white. The 48 kHz stereo
# audio from ffmpeg is silent but for a beep that starts with picture 9,
# and longer than the video (argenc cuts it at the last picture).
if [ -s "$src/data/tree.y4m" ]; then
    src_clip=$src/data/tree.y4m num=7 den=3
else
    src_clip="testsrc2=size=160x120:rate=24000/1001" num=24000 den=1001
fi
flash_at=9
ffmpeg -v error $([ "$num" = 7 ] || echo -f lavfi) -i "$src_clip" -frames:v 17 -pix_fmt yuv420p \
    -vf "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(n,$flash_at,$((flash_at + 3)))'" \
    -f yuv4mpegpipe clip.y4m || { echo "ffmpeg cannot make the test clip"; exit 1; }
beep=$(awk -v a=$num -v b=$den -v n=$flash_at 'BEGIN { printf "%.6f", n * b / a }')
ffmpeg -v error -f lavfi -i "aevalsrc='if(gte(t,$beep),0.5*sin(2*PI*440*t),0)':s=48000:d=12" -ac 2 a.wav ||
    { echo "ffmpeg cannot make the test audio"; exit 1; }
"$enc" -i clip.y4m -i a.wav -m "$model" --frames 17 -o in.mkv --threads 2 --quiet ||
    { echo "argenc failed"; exit 1; }
"$dec" -i in.mkv -o ref.y4m --threads 2 --quiet || { echo "argdec to Y4M failed"; exit 1; }
frames=17
vdur=$(awk -v n=$frames -v a=$num -v b=$den 'BEGIN { printf "%.6f", n * b / a }')
pic=$(awk -v a=$num -v b=$den 'BEGIN { printf "%.6f", b / a }')
[ "$(probe ref.y4m v:0 nb_read_frames)" = $frames ] && ok || ko "argdec's Y4M has $frames pictures"

# ---- the four containers, -crf 10
for spec in mp4:h264:opus mkv:h264:opus webm:vp9:opus mov:h264:aac; do
    IFS=: read -r ext vcodec acodec <<EOF
$spec
EOF
    f=out.$ext
    expect 0 "argdec -o $f" "$dec" -i in.mkv -o "$f" -crf 10 --threads 2 --quiet
    [ -s "$f" ] || { ko "$f not written"; continue; }
    ls "$f".tmp.* >/dev/null 2>&1 && ko "$f: temporary file left" || ok
    probe_all "$f"
    [ "$v_codec_name" = "$vcodec" ] && ok || ko "$f: video codec $v_codec_name, want $vcodec"
    [ "$a_codec_name" = "$acodec" ] && ok || ko "$f: audio codec $a_codec_name, want $acodec"
    [ "$a_sample_rate/$a_channels" = 48000/2 ] && ok || ko "$f: audio at $a_sample_rate Hz, $a_channels channels"
    [ "$v_nb_read_frames" = $frames ] && ok || ko "$f: $v_nb_read_frames pictures, want $frames"
    [ "$v_r_frame_rate" = "$num/$den" ] && ok || ko "$f: frame rate $v_r_frame_rate, want $num/$den"
    [ "${v_width}x$v_height/$v_pix_fmt" = 160x120/yuv420p ] && ok || ko "$f: ${v_width}x$v_height $v_pix_fmt"
    # the stream's colour description (argenc's default: BT.601, limited range)
    [ "$v_color_space/$v_color_range" = smpte170m/tv ] && ok ||
        ko "$f: colour $v_color_space/$v_color_range, want smpte170m/tv"
    near "$duration" "$vdur" "$pic" && ok || ko "$f: duration $duration, want $vdur within a picture"
    measure "$f"
    # audio as long as the video within one picture, both starting at zero
    adur=$(awk -v s="$samples" 'BEGIN { printf "%.6f", s / 48000 }')
    near "$adur" "$vdur" "$pic" && ok || ko "$f: audio lasts $adur s, video $vdur s"
    near "$v_start_time" 0 0.001 && ok || ko "$f: video starts at $v_start_time"
    ffmpeg -v error -i "$f" -f null - >dec.log 2>&1 && [ ! -s dec.log ] && ok ||
        ko "$f: ffmpeg decodes with errors: $(head -c 300 dec.log)"
    # the encoder's pictures against argdec's own Y4M (ffmpeg's psnr filter)
    echo "$f: PSNR against argdec's Y4M $psnr dB, audio $adur s, video $vdur s"
    in_sync "$f" $flash_at
    awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || (p + 0 >= 40)) }' && ok || ko "$f: PSNR '$psnr' dB < 40 vs argdec's Y4M"
done
# mkv/webm copy the Opus packets and trim the end to the samples argenc coded
want=$(ffprobe -v error -show_entries format_tags=ARG_AUDIO_SAMPLES -of default=nw=1:nk=1 in.mkv)
for f in out.mkv out.webm; do
    got=$(audio_samples $f)
    [ "$got" = "$want" ] && ok || ko "$f: $got audio samples, argenc coded $want"
done

# ---- pipes: Y4M and Matroska (both streams) and fragmented mp4 on stdout
got=$("$dec" -i in.mkv -o - -f yuv4mpegpipe --threads 2 --quiet |
      ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of default=nw=1:nk=1 -)
[ "$got" = $frames ] && ok || ko "-o - -f yuv4mpegpipe: $got pictures"
"$dec" -i in.mkv -o - --threads 2 --quiet | cmp -s - ref.y4m && ok || ko "-o - is argdec's Y4M"
for fmt in matroska mp4; do
    got=$("$dec" -i in.mkv -o - -f $fmt --threads 2 --quiet |
          ffprobe -v error -count_frames -show_entries stream=codec_type,nb_read_frames -of csv=p=0 - | tr '\n' ' ')
    case "$got" in
        "video,$frames audio,"[1-9]*) ok ;;
        *) ko "-o - -f $fmt | ffprobe -: '$got', want video,$frames and audio" ;;
    esac
done

# ---- -ss: the audio starts with the first picture kept (encoded: aac in mp4)
# -ss 4.6 pictures in: argdec starts at picture 5 (the first within 0.5 ms of -ss or after)
ss_t=$(awk -v a=$num -v b=$den 'BEGIN { printf "%.6f", 4.6 * b / a }')
expect 0 "-ss $ss_t to mp4" "$dec" -i in.mkv -ss "$ss_t" -o ss.mp4 --threads 2 --quiet
probe_all ss.mp4
ssn=$v_nb_read_frames
want=$((frames - 5))
[ "$ssn" = "$want" ] && ok || ko "-ss $ss_t: $ssn pictures, want $want"
[ "$a_codec_name" = aac ] && ok || ko "-ss $ss_t: audio not encoded to aac"
measure ss.mp4
adur=$(awk -v s="$samples" 'BEGIN { print s / 48000 }')
sdur=$(awk -v n="$ssn" -v a=$num -v b=$den 'BEGIN { print n * b / a }')
near "$adur" "$sdur" "$pic" && ok || ko "-ss $ss_t: audio $adur s, video $sdur s"
in_sync ss.mp4 $((flash_at - (frames - ssn)))
# --frames 5: the audio ends with the fifth picture
expect 0 "--frames 5 to mkv" "$dec" -i in.mkv --frames 5 -o f5.mkv --threads 2 --quiet
[ "$(probe f5.mkv v:0 nb_read_frames)" = 5 ] && ok || ko "--frames 5: not 5 pictures"
want=$(awk -v a=$num -v b=$den 'BEGIN { printf "%d", 5 * 48000 * b / a + 0.5 }')
[ "$(audio_samples f5.mkv)" = "$want" ] && ok || ko "--frames 5: $(audio_samples f5.mkv) audio samples, want $want"
# -an, -c:a, -pix_fmt, -preset
expect 0 "-an" "$dec" -i in.mkv -o an.mp4 -an -preset ultrafast --quiet
[ -z "$(probe an.mp4 a:0 codec_name)" ] && ok || ko "-an leaves an audio stream"
expect 0 "-c:a aac -b:a 96k -pix_fmt yuv444p to mkv" "$dec" -i in.mkv -o aac.mkv -c:a aac -b:a 96k -pix_fmt yuv444p --quiet
[ "$(probe aac.mkv a:0 codec_name)/$(probe aac.mkv v:0 pix_fmt)" = aac/yuv444p ] && ok ||
    ko "-c:a aac -pix_fmt yuv444p: $(probe aac.mkv a:0 codec_name)/$(probe aac.mkv v:0 pix_fmt)"
# a full-range BT.709 stream with mono audio keeps its colour and channel count
ffmpeg -v error -i clip.y4m -frames:v 5 -vf scale=out_range=full -strict -1 -f yuv4mpegpipe full.y4m &&
    ffmpeg -v error -f lavfi -i "sine=frequency=300:sample_rate=48000:duration=3" -ac 1 mono.wav &&
    "$enc" -i full.y4m -i mono.wav -m "$model" --matrix bt709 -o full.mkv --threads 2 --quiet ||
    ko "cannot make the full-range BT.709 stream"
expect 0 "full-range BT.709 mono to mp4" "$dec" -i full.mkv -o full.mp4 --threads 2 --quiet
probe_all full.mp4
got=$v_color_space/$v_color_range/$(probe full.mp4 v:0 color_primaries)/$(probe full.mp4 v:0 color_transfer)
[ "$got" = bt709/pc/bt709/bt709 ] && ok || ko "full.mp4: colour $got, want bt709/pc/bt709/bt709"
[ "$a_codec_name/$a_channels" = opus/1 ] && ok || ko "full.mp4: audio $a_codec_name/$a_channels, want opus/1"
# -o x.wav: the audio alone, as --audio writes it
expect 0 "-o x.wav" "$dec" -i in.mkv -o a1.wav --quiet
expect 0 "--audio x.wav" "$dec" -i in.mkv --audio a2.wav --quiet
cmp -s a1.wav a2.wav && ok || ko "-o x.wav differs from --audio x.wav"

# ---- refusals: clear messages, exit 2, nothing left behind
expect 2 "unknown extension" "$dec" -i in.mkv -o bad.xyz --quiet
err_has "unknown extension '.xyz'"
expect 2 "unknown -c:v" "$dec" -i in.mkv -o bad.mp4 -c:v nosuchcodec --quiet
err_has "-c:v nosuchcodec: no such encoder"
expect 2 "-c:v of an audio encoder" "$dec" -i in.mkv -o bad.mp4 -c:v aac --quiet
err_has "not a video encoder"
expect 2 "-f nosuchformat" "$dec" -i in.mkv -o bad.mp4 -f nosuchformat --quiet
err_has "no such container"
expect 2 "-c:a copy into mov" "$dec" -i in.mkv -o bad.mov -c:a copy --quiet
err_has "does not take Opus"
expect 2 "-c:a copy with -ss" "$dec" -i in.mkv -o bad.mkv -ss 1 -c:a copy --quiet
err_has "-c:a copy needs the audio from the stream's start"
expect 2 "vp9 in mp4 is fine, h264 in webm is not" "$dec" -i in.mkv -o bad.webm -c:v libx264 --quiet
err_has "does not take"
expect 2 "-crf on Y4M" "$dec" -i in.mkv -o bad.y4m -crf 20 --quiet
err_has "apply to video containers"
expect 2 "-crf for an encoder without it" "$dec" -i in.mkv -o bad.mkv -c:v ffv1 -crf 20 --quiet
err_has "no constant-quality mode"
ls bad.* >/dev/null 2>&1 && ko "refused requests left files: $(ls bad.*)" || ok
expect 1 "existing output without -y" "$dec" -i in.mkv -o out.mp4 --quiet
err_has "exists"

echo "transcode out: $pass passed, $fail failed"
[ "$fail" = 0 ]
