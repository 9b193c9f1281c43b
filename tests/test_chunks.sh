#!/bin/sh
# Chunked encoding (issue 13): scripts/arg-chunks.sh encodes GOP-aligned
# chunks with GNU parallel and joins them with mkvmerge; the joined file
# decodes to the tokens and pictures of one `argenc --gop-align` pass, with
# the same video timestamps. Prints the wall-clock speed-up of 2 jobs over
# 1 (not asserted: the machine may be busy).
# usage: test_chunks.sh BUILD_TOOLS_DIR SRCDIR WORKDIR HAVE_LIBAV
set -u
tools=$(cd "$1" && pwd) src=$(cd "$2" && pwd) work=$3 have_libav=$4
if [ "$have_libav" != true ]; then
    echo "argenc was built without FFmpeg's libraries (-ss/-to): skipped"
    exit 77
fi
for t in ffmpeg ffprobe mkvmerge parallel; do
    command -v $t >/dev/null || { echo "$t not found: skipped"; exit 77; }
done
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
model=$src/models/arg-s16.safetensors
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
now() { date +%s.%N; }
data=${ARG_DATA:-$src/data}
real=$data/cache/cup.mp4
[ -s "$real" ] || { ffmpeg -v error -y -f lavfi -i "testsrc2=size=320x240:rate=26.777" -frames:v 100 syn.mp4; real=syn.mp4; }
# 100 pictures at 160x120 with a tone: 3 GOPs of 29 pictures and a partial one
ffmpeg -nostdin -v error -y -i "$real" -f lavfi -i "sine=f=440:r=44100:d=4" -map 0:v -map 1:a -vf scale=160:120 \
    -frames:v 100 -c:v libx264 -preset ultrafast -g 12 -c:a aac -shortest in.mp4 || { echo "ffmpeg failed"; exit 1; }
export ARGENC=$tools/argenc

t0=$(now)
"$ARGENC" -i in.mp4 -o single.mkv -m "$model" --gop-align --quiet >single.out 2>&1 || ko "single pass: $(cat single.out)"
t1=$(now)
"$tools/argdec" -i single.mkv --verify >single.ver 2>&1 || ko "argdec single.mkv"
bash "$src/scripts/arg-chunks.sh" -j 1 in.mp4 j1.mkv 4 -- -m "$model" >j1.out 2>&1 || ko "arg-chunks -j 1: $(cat j1.out)"
t2=$(now)
bash "$src/scripts/arg-chunks.sh" -j 2 in.mp4 j2.mkv 4 -- -m "$model" >j2.out 2>&1 || ko "arg-chunks -j 2: $(cat j2.out)"
t3=$(now)
cat j1.out j2.out
grep -q "4 chunks (3 non-empty)" j2.out && ok || ko "4 chunks of 25 pictures: the first holds no GOP start"
want=$(sed -n 's/^tokens //p' single.out)
[ -n "$want" ] && [ "$(sed -n 's/^tokens //p' single.ver)" = "$want" ] && ok || ko "argdec --verify of the single pass"
for j in j1 j2; do
    "$tools/argdec" -i $j.mkv --verify >$j.ver 2>&1 || ko "argdec $j.mkv: $(cat $j.ver)"
    [ "$(sed -n 's/^tokens //p' $j.ver)" = "$want" ] && ok || ko "$j.mkv: tokens $(sed -n 's/^tokens //p' $j.ver), single pass $want"
    [ "$(sed -n 's/^frames //p' $j.ver)" = "$(sed -n 's/^frames //p' single.ver)" ] && ok || ko "$j.mkv: decoded pictures differ"
    grep -q "^pictures 100\$" $j.ver && ok || ko "$j.mkv: 100 pictures"
    a=$(ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 single.mkv | md5sum)
    b=$(ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 $j.mkv | md5sum)
    [ "$a" = "$b" ] && ok || ko "$j.mkv: video timestamps differ from the single pass"
    [ "$(ffprobe -v error -select_streams a -show_entries stream=codec_name -of csv=p=0 $j.mkv)" = opus ] && ok \
        || ko "$j.mkv: an Opus track"
    n=$(mkvmerge -J $j.mkv | grep -c '"codec":')
    [ "$n" = 2 ] && ok || ko "$j.mkv: two tracks, mkvmerge -J sees $n"
done
awk -v s0="$t0" -v s1="$t1" -v a="$t1" -v b="$t2" -v c="$t2" -v d="$t3" 'BEGIN {
    printf "wall clock: one argenc process %.2f s; 4 chunks with 1 job %.2f s, with 2 jobs %.2f s: speed-up %.2fx (2 jobs over 1), %.2fx over one process\n",
        s1 - s0, b - a, d - c, (b - a) / (d - c), (s1 - s0) / (d - c) }'
# a bad N is refused
bash "$src/scripts/arg-chunks.sh" in.mp4 x.mkv 0 >bad.out 2>&1 && ko "N = 0 accepted" || ok
grep -q "N wants a positive integer" bad.out && ok || ko "N = 0: $(cat bad.out)"
echo "chunks: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
