#!/bin/sh
# argenc's input through FFmpeg's libraries (issue 13): real footage in
# several containers and codecs, each encoded with its audio to .mkv and
# checked with ffprobe (picture count, rate, duration, both streams, 48 kHz
# mono/stereo audio from 44.1 kHz and 5.1 sources); the same pictures as
# the Y4M path; -ss/-t exact to the picture; -r, -vf scale, -map, -an,
# -c:a copy, -metadata, -b:v, stdin; clear errors for a non-media file, an
# audio-only file and an undecodable video stream.
# usage: test_transcode_in.sh BUILD_TOOLS_DIR SRCDIR WORKDIR HAVE_LIBAV
# Footage: data/cache/cup.mp4 (H.264, opencv-doc) and vtest.avi (MS-MPEG4)
# after scripts/fetch_data.sh; without them a synthetic clip stands in.
set -u
tools=$(cd "$1" && pwd) src=$(cd "$2" && pwd) work=$3 have_libav=$4
if [ "$have_libav" != true ]; then
    echo "argenc was built without FFmpeg's libraries: skipped"
    exit 77
fi
for t in ffmpeg ffprobe mkvmerge; do
    command -v $t >/dev/null || { echo "$t not found: skipped"; exit 77; }
done
rm -rf "$work"
mkdir -p "$work"
dec=$tools/argdec
# one thread: the suite runs beside other tests on few cores
enc() { "$tools/argenc" --threads 1 "$@"; }
export OPENBLAS_NUM_THREADS=1
model=$src/models/arg-s16.safetensors
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
# expect RC NAME CMD...: run with stdout/stderr to files, compare the status
expect() {
    want=$1 name=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err" </dev/null
    got=$?
    [ "$got" = "$want" ] && ok || ko "$name: exit $got, want $want ($(head -c 400 "$work/err"))"
}
err_has() { grep -q -F -- "$1" "$work/err" && ok || ko "stderr lacks '$1': $(head -c 400 "$work/err")"; }
tokens() { sed -n 's/^tokens \([0-9a-f]*\)$/\1/p' "$1"; }
probe() { ffprobe -v error -select_streams "$2" -show_entries "$3" -of default=nw=1:nk=1 "$1" | head -n 1; }
cd "$work" || exit 1
ff() { ffmpeg -nostdin -v error -y "$@"; }

data=${ARG_DATA:-$src/data}
if [ -s "$data/cache/cup.mp4" ]; then
    real=$data/cache/cup.mp4
    echo "footage: $real (H.264 from opencv-doc)"
else
    ff -f lavfi -i "testsrc2=size=320x240:rate=26.777" -frames:v 60 -c:v libx264 -preset ultrafast syn.mp4
    real=syn.mp4
    echo "footage: synthetic (run scripts/fetch_data.sh for the real clips)"
fi
N=40 # pictures in each test clip (more than one GOP of arg-s16: 29)
# the sources: 160x120 pictures of the real clip, several containers and
# codecs, with audio of several rates and layouts (1.5 s of tone)
V="-vf scale=160:120 -frames:v $N"
sine() { echo "sine=f=$1:r=$2:d=1.5"; }
ff -i "$real" -f lavfi -i "$(sine 440 44100)" $V -map 0:v -map 1:a -ac 2 -c:v libx264 -preset ultrafast -g 10 \
    -c:a aac h264_aac44.mp4
ff -i "$real" -f lavfi -i "$(sine 330 44100)" $V -map 0:v -map 1:a -ac 6 -c:v libx264 -preset ultrafast \
    -c:a aac h264_aac51.mov
ff -i "$real" -f lavfi -i "$(sine 550 22050)" $V -map 0:v -map 1:a -ac 1 -c:v mpeg4 -q:v 3 \
    -c:a libmp3lame mpeg4_mp3.avi
ff -i "$real" -f lavfi -i "$(sine 660 48000)" $V -map 0:v -map 1:a -ac 2 -c:v mjpeg -q:v 3 -pix_fmt yuvj420p \
    -c:a pcm_s16le mjpeg_pcm.avi
ff -i "$real" -f lavfi -i "$(sine 770 44100)" $V -map 0:v -map 1:a -ac 2 -c:v libtheora -q:v 7 \
    -c:a libvorbis theora_vorbis.ogv
ff -i "$real" -f lavfi -i "$(sine 880 48000)" $V -map 0:v -map 1:a -ac 2 -c:v libx264 -preset ultrafast \
    -c:a libopus -b:a 48k h264_opus.mkv
[ -s theora_vorbis.ogv ] && [ -s h264_opus.mkv ] && [ -s mjpeg_pcm.avi ] || { echo "ffmpeg cannot make the clips"; exit 1; }

fps_of() { probe "$1" v:0 stream=r_frame_rate; }
# pictures at a constant rate, as ffmpeg makes them (gaps filled, as argenc does)
frames_of() { ffmpeg -v error -i "$1" -an -fps_mode cfr -f framemd5 - | grep -vc '^#'; }
dims_of() { mkvmerge -J "$1" | tr -d ' \n' | sed -n 's/.*"display_dimensions":"\([0-9x]*\)".*/\1/p'; }
# seconds of decoded audio (ffmpeg's decoders: Opus pre-skip and MP3 delay removed)
aend_of() { ffmpeg -v error -i "$1" -map 0:a:0 -ac 1 -ar 48000 -f s16le - | wc -c | awk '{ printf "%.4f", $1 / 96000 }'; }
# the output's audio: the source's, plus at most an Opus frame, its lookahead
# and a leading gap that the source's timestamps ask for (MP3 in AVI: 52 ms)
asame() { awk -v a="$(aend_of "$1")" -v s="$(aend_of "$2")" 'BEGIN { exit !(a > s - 0.01 && a < s + 0.07) }'; }
# each: encode with audio, then ffprobe the result against the source
# (file, audio channels out, what argenc says of the audio)
for c in "h264_aac44.mp4 2 aac~44100~Hz~2~ch~->~48000~Hz~2~ch" \
         "h264_aac51.mov 2 aac~44100~Hz~6~ch~->~48000~Hz~2~ch~(downmixed)" \
         "mpeg4_mp3.avi 1 mp3~22050~Hz~1~ch~->~48000~Hz~1~ch" "mjpeg_pcm.avi 2 pcm_s16le~48000~Hz~2~ch" \
         "theora_vorbis.ogv 2 vorbis~44100~Hz~2~ch" "h264_opus.mkv 2 opus~48000~Hz~2~ch"; do
    set -- $c
    f=$1 ch=$2 says=$(echo "$3" | tr '~' ' ') o=$1.mkv
    n=$(frames_of "$f")
    expect 0 "argenc -i $f" enc -i "$f" -o "$o" -m "$model" --stats "$f.json"
    err_has "$says"
    grep -q '"pictures": '"$n," "$f.json" && ok || ko "$f: $n pictures as ffmpeg -fps_mode cfr gives ($(grep pictures "$f.json"))"
    [ "$(fps_of "$o")" = "$(fps_of "$f")" ] && ok || ko "$f: frame rate $(fps_of "$o"), source $(fps_of "$f")"
    [ "$(dims_of "$o")" = 160x120 ] && ok || ko "$f: display size $(dims_of "$o")"
    [ "$(probe "$o" a:0 stream=codec_name)" = opus ] && ok || ko "$f: an Opus stream"
    [ "$(probe "$o" a:0 stream=sample_rate)" = 48000 ] && ok || ko "$f: 48 kHz"
    [ "$(probe "$o" a:0 stream=channels)" = "$ch" ] && ok || ko "$f: $ch channels, got $(probe "$o" a:0 stream=channels)"
    # duration: the pictures' span (or the audio's, a little longer)
    awk -v d="$(probe "$o" v:0 format=duration)" -v r="$(fps_of "$o")" -v n="$n" \
        'BEGIN { split(r, q, "/"); e = n * q[2] / q[1]; exit !(d >= e - 0.002 && d <= e + 0.07) }' \
        && ok || ko "$f: duration $(probe "$o" v:0 format=duration) for $n pictures at $(fps_of "$o")"
    asame "$o" "$f" && ok || ko "$f: $(aend_of "$o") s of audio, the source $(aend_of "$f") s"
done
# A/V sync: audio that starts 0.25 s after the first picture comes out
# after 0.25 s of silence (within a picture)
ff -i "$real" -f lavfi -i "$(sine 440 44100)" $V -map 0:v -map 1:a -af adelay=250:all=1 -c:v libx264 \
    -preset ultrafast -c:a aac late.mp4
enc -i late.mp4 -o late.mkv -m "$model" >/dev/null 2>&1
"$dec" -i late.mkv --audio late.wav >/dev/null 2>&1
first=$(ffmpeg -v error -i late.wav -af "silencedetect=n=-40dB:d=0.05" -f null - -v info 2>&1 |
        sed -n 's/.*silence_end: \([0-9.]*\).*/\1/p' | head -n 1)
awk -v t="$first" 'BEGIN { exit !(t > 0.25 - 0.04 && t < 0.25 + 0.04) }' && ok \
    || ko "A/V sync: the tone starts at '$first' s, want 0.25 s (within a picture)"

# ---- the same pictures as the Y4M path (colour matrix, range, siting)
ff -i h264_aac44.mp4 -f yuv4mpegpipe y.y4m
enc -i y.y4m -o y.mkv -m "$model" >y.out 2>&1
enc -i h264_aac44.mp4 -an -o z.mkv -m "$model" >z.out 2>&1
[ -n "$(tokens y.out)" ] && [ "$(tokens y.out)" = "$(tokens z.out)" ] && ok \
    || ko "H.264 through libav and through Y4M give other tokens ($(tokens y.out) vs $(tokens z.out))"
ff -i mjpeg_pcm.avi -f yuv4mpegpipe -strict -1 j.y4m
enc -i j.y4m -o j.mkv -m "$model" >j.out 2>&1
enc -i mjpeg_pcm.avi -an -o k.mkv -m "$model" >k.out 2>&1
[ -n "$(tokens j.out)" ] && [ "$(tokens j.out)" = "$(tokens k.out)" ] && ok \
    || ko "full-range MJPEG through libav and through Y4M give other tokens"

# ---- -ss / -t: exactly the pictures of that range (against ffmpeg's select)
# at 26.777 fps: -ss 0.5 starts at picture 14 (0.5228 s), and pictures
# before 0.9 s end at 24; -ss 0.3: 9 (0.3361 s) to 34 (1.2697 s)
for r in "0.5 -t 0.4 14 11" "0.3 -to 1.3 9 26"; do
    set -- $r
    ss=$1 t="$2 $3" first=$4 n=$5
    enc -i h264_aac44.mp4 -an -ss "$ss" $t -o cut.mkv -m "$model" -y >cut.out 2>&1
    ff -i h264_aac44.mp4 -vf "select=between(n\\,$first\\,$((first + n - 1)))" -fps_mode passthrough \
        -f yuv4mpegpipe sel.y4m
    enc -i sel.y4m -o sel.mkv -m "$model" -y >sel.out 2>&1
    grep -q " $n pictures" cut.out && ok || ko "-ss $ss $t: $n pictures ($(grep pictures cut.out))"
    [ -n "$(tokens cut.out)" ] && [ "$(tokens cut.out)" = "$(tokens sel.out)" ] && ok \
        || ko "-ss $ss $t: not the pictures $first..$((first + n - 1))"
done
# decoded pictures: a GOP-aligned range equals the same range of the full encode
enc -i h264_aac44.mp4 -o full.mkv -m "$model" -y >/dev/null 2>&1
"$dec" -i full.mkv -o full.y4m -y >/dev/null 2>&1
enc -i h264_aac44.mp4 -ss 1.1 -frames:v 9 --gop-align -o part.mkv -m "$model" -y >part.out 2>&1
grep -q "from picture 29" part.out && ok || ko "--gop-align -ss 1.1 snaps to picture 29: $(cat part.out)"
"$dec" -i part.mkv -o part.y4m -y >/dev/null 2>&1
ff -i full.y4m -vf "select=between(n\\,29\\,37)" -fps_mode passthrough -f framemd5 full.md5
ff -i part.y4m -f framemd5 part.md5
a=$(grep -v '^#' full.md5 | awk -F, '{ print $NF }') b=$(grep -v '^#' part.md5 | awk -F, '{ print $NF }')
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$(echo "$b" | wc -l)" = 9 ] && ok \
    || ko "decoded pictures 29..37 of -ss differ from the full decode's"

# ---- -r, -vf scale, -s, -map, -an, -metadata, -c:a copy, stdin, -b:v
expect 0 "-r 10 -vf scale=96:-2 -an" enc -i h264_aac44.mp4 -r 10 -vf scale=96:-2 -an -o r.mkv -m "$model" -y
n=$(ffmpeg -v error -i h264_aac44.mp4 -an -r 10 -f framemd5 - | grep -vc '^#')
grep -q " $n pictures (.* at 10.000 fps)" out && ok || ko "-r 10: $n pictures as ffmpeg -r 10 gives ($(grep pictures out))"
[ "$(fps_of r.mkv)" = 10/1 ] && ok || ko "-r 10: ffprobe says $(fps_of r.mkv)"
[ "$(dims_of r.mkv)" = 96x72 ] && ok || ko "-vf scale=96:-2: 96x72, got $(dims_of r.mkv)"
[ -z "$(probe r.mkv a stream=codec_name)" ] && ok || ko "-an: no audio stream"
expect 2 "-vf other filters" enc -i h264_aac44.mp4 -vf hflip -o x.mkv -m "$model" -y
err_has "-vf wants scale=W:H"
expect 2 "-s and -vf" enc -i h264_aac44.mp4 -s 80x64 -vf scale=80:64 -o x.mkv -m "$model" -y
err_has "-s and -vf scale both set the size"
# -s, -metadata, a second input's audio by -map, on an Ogg file on stdin
enc -i - -i mjpeg_pcm.avi -map 0:v:0 -map 1:a:0 -s 80x64 -metadata title=Holiday -metadata artist="A B" \
    -o m.mkv -m "$model" -y <theora_vorbis.ogv >m.out 2>&1
grep -q " $(frames_of theora_vorbis.ogv) pictures" m.out && ok || ko "an Ogg file on stdin: $(tail -n 3 m.out)"
[ "$(dims_of m.mkv)" = 80x64 ] && ok || ko "-s 80x64, got $(dims_of m.mkv)"
grep -q "mjpeg_pcm.avi: audio pcm_s16le 48000 Hz 2 ch" m.out && ok || ko "-map 1:a:0: the second input's audio"
asame m.mkv mjpeg_pcm.avi && ok || ko "-map 1:a:0: $(aend_of m.mkv) s of audio, the source $(aend_of mjpeg_pcm.avi) s"
[ "$(ffprobe -v error -show_entries format_tags=TITLE -of default=nw=1:nk=1 m.mkv)" = Holiday ] && ok \
    || ko "-metadata title=Holiday: TITLE tag"
[ "$(ffprobe -v error -show_entries format_tags=ARTIST -of default=nw=1:nk=1 m.mkv)" = "A B" ] && ok || ko "ARTIST tag"
# -c:a copy: the same Opus payloads (framemd5's 6th field)
ff -i h264_opus.mkv -map 0:a -c copy -f framemd5 src_audio.md5
expect 0 "-c:a copy" enc -i h264_opus.mkv -c:a copy -o cp.mkv -m "$model" -y
ff -i cp.mkv -map 0:a -c copy -f framemd5 cp_audio.md5
[ -n "$(grep -v '^#' cp_audio.md5)" ] && \
    [ "$(grep -v '^#' src_audio.md5 | cut -d, -f6)" = "$(grep -v '^#' cp_audio.md5 | cut -d, -f6)" ] \
    && ok || ko "-c:a copy: the Opus packets are not the source's"
expect 1 "-c:a copy of AAC" enc -i h264_aac44.mp4 -c:a copy -o x.mkv -m "$model" -y
err_has "-c:a copy needs Opus audio, the stream is aac"
expect 2 "-map 0:a:x" enc -i h264_aac44.mp4 -map 0:a:x -o x.mkv -m "$model" -y
err_has "-map wants"
expect 1 "-map 0:a:3" enc -i h264_aac44.mp4 -map 0:a:3 -o x.mkv -m "$model" -y
err_has "no audio stream 0:a:3"
expect 0 "-b:v 10M" enc -i h264_aac44.mp4 -b:v 10M -an -frames:v 9 -o bv.mkv -y
grep -q "model arg-s4" out && ok || ko "-b:v 10M picks the highest operating point: $(grep model out)"
grep -q "achieved" out && ok || ko "-b:v reports the achieved rate"
err_has "measured on the first 9 pictures"
# all 9 pictures were measured: the trial's rate is the file's
m=$(sed -n 's/.*arg-s4.safetensors \([0-9.]*\).*/\1/p' err) a=$(sed -n 's/.*achieved \([0-9.]*\).*/\1/p' out)
awk -v m="$m" -v a="$a" 'BEGIN { exit !(m != "" && a - m < 0.06 && m - a < 0.06) }' && ok \
    || ko "-b:v: measured $m kbit/s, achieved $a kbit/s"

# ---- real files from the package as they are (MS-MPEG4 avi), progress line
if [ -s "$data/cache/vtest.avi" ]; then
    expect 0 "vtest.avi" enc -i "$data/cache/vtest.avi" -vf scale=192:144 -frames:v 9 -o vt.mkv -m "$model" \
        --progress
    err_has "msmpeg4v3 768x576 -> 192x144"
    err_has "0.1/0.9 s"
    err_has "ETA"
fi

# ---- clear errors
printf 'hello, this is not a video\n%.0s' $(seq 1 50) >notes.txt
expect 1 "a text file" enc -i notes.txt -o x.mkv -m "$model" -y
err_has "notes.txt: a text file, not a media file"
gzip -c notes.txt >notes.gz
expect 1 "a non-media file" enc -i notes.gz -o x.mkv -m "$model" -y
err_has "notes.gz: not a media file that FFmpeg's libraries can read"
ff -f lavfi -i "$(sine 440 44100)" -c:a libmp3lame song.mp3
expect 1 "an audio-only file" enc -i song.mp3 -o x.mkv -m "$model" -y
err_has "song.mp3: no video stream (an audio-only file"
expect 1 "an undecodable video stream (ARG)" enc -i m.mkv -o x.mkv -m "$model" -y
err_has "m.mkv: the video stream (codec unknown) cannot be decoded by FFmpeg's libraries"
expect 1 "a missing file" enc -i nothere.mp4 -o x.mkv -m "$model" -y
err_has "cannot open 'nothere.mp4'"
[ ! -e x.mkv ] && ok || ko "no output after the errors"

echo "transcode input: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
