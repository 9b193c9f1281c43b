#!/bin/sh
# argdec's writer thread (issue 16): the pictures it writes while the next
# ones decode are the same as with --no-pipeline (everything in the decoding
# thread), byte for byte, with -frames:v, -ss, --psnr and the containers'
# audio; --verify's picture hash is the XXH3 of the Y4M planes (xxhsum); a
# write error (/dev/full, a closed pipe) gives exit 1 and its message, and
# stops the decoding at once rather than at the end of the stream.
# usage: test_argdec_pipe.sh BUILD_TOOLS_DIR SRCDIR WORKDIR PYTHON HAVE_LIBAV
set -u
tools=$(cd "$1" && pwd) src=$(cd "$2" && pwd) work=$3 py=$4 libav=$5
rm -rf "$work"
mkdir -p "$work"
enc=$tools/argenc dec=$tools/argdec
model=$src/models/arg-s16.safetensors
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
cd "$work" || exit 1

ffmpeg -v error -y -f lavfi -i "testsrc2=size=128x96:rate=25" -frames:v 60 -pix_fmt yuv420p -f yuv4mpegpipe a.y4m \
    && ffmpeg -v error -y -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=2.4" -ac 2 a.wav \
    || { echo "ffmpeg cannot make the test clip"; exit 1; }
"$enc" -i a.y4m -i a.wav -o a.mkv -m "$model" --threads 1 --quiet >/dev/null || { echo "argenc failed"; exit 1; }

# same NAME ARGS...: argdec ARGS with and without the pipeline give the same
# report (stdout) and the same OUT.* files (Y4M byte for byte)
same() {
    name=$1
    shift
    "$dec" "$@" -o p.y4m -y --quiet >p.txt 2>p.err || ko "$name: pipelined argdec failed: $(cat p.err)"
    "$dec" "$@" -o n.y4m -y --quiet --no-pipeline >n.txt 2>n.err || ko "$name: --no-pipeline argdec failed: $(cat n.err)"
    cmp -s p.y4m n.y4m && ok || ko "$name: the Y4M differs from --no-pipeline's"
    cmp -s p.txt n.txt && ok || ko "$name: the report differs: $(cat p.txt) / $(cat n.txt)"
}
same "whole stream" -i a.mkv --verify --threads 1
[ "$(grep -c FRAME p.y4m)" = 60 ] && ok || ko "60 pictures written (the queue is drained at the end)"
same "two decoder threads" -i a.mkv --verify --threads 2
same "-frames:v 7" -i a.mkv --verify -frames:v 7
[ "$(grep -c FRAME p.y4m)" = 7 ] && ok || ko "-frames:v 7: 7 pictures"
same "-ss 1" -i a.mkv --verify -ss 1
same "--psnr" -i a.mkv --verify --psnr a.y4m
grep -q "^PSNR Y " p.txt && ok || ko "--psnr prints PSNR: $(cat p.txt)"
same "-pix_fmt yuv444p" -i a.mkv --verify -pix_fmt yuv444p

# --verify's "frames" hash is XXH3-64 of the planes, FRAME lines left out
if command -v xxhsum >/dev/null 2>&1; then
    "$dec" -i a.mkv -o p.y4m -y --verify --quiet >p.txt 2>/dev/null
    "$py" - p.y4m planes <<'PY' || ko "cannot strip the Y4M headers"
import sys
d = open(sys.argv[1], 'rb').read()
i = d.index(b'\n') + 1
w = int([t for t in d[:i].split() if t.startswith(b'W')][0][1:])
h = int([t for t in d[:i].split() if t.startswith(b'H')][0][1:])
size = w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
out = open(sys.argv[2], 'wb')
while i < len(d):
    j = d.index(b'\n', i) + 1
    out.write(d[j:j + size])
    i = j + size
PY
    want=$(sed -n 's/^frames //p' p.txt)
    got=$(xxhsum -H3 planes | sed 's/.* = //; s/ *$//')
    [ -n "$want" ] && [ "$got" = "$want" ] && ok || ko "--verify frames $want, xxhsum -H3 of the planes $got"
fi

# the containers: video and audio packets as with --no-pipeline (the
# interleaving is the muxer's; Matroska's UIDs differ from run to run)
if [ "$libav" = true ]; then
    packets() { ffmpeg -v error -i "$1" -map 0 -c copy -f framemd5 - | grep -v '^#'; }
    for args in "-o p.mkv" "-o p.mp4 -c:a aac" "-o p.mkv -ss 1" "-o p.mp4 -frames:v 9"; do
        ext=${args#-o p.}
        ext=${ext%% *}
        nargs=$(echo "$args" | sed 's/-o p\./-o n./')
        # shellcheck disable=SC2086
        "$dec" -i a.mkv $args -y --quiet 2>p.err || ko "argdec $args: $(cat p.err)"
        # shellcheck disable=SC2086
        "$dec" -i a.mkv $nargs -y --quiet --no-pipeline 2>n.err || ko "argdec $nargs --no-pipeline: $(cat n.err)"
        packets "p.$ext" >p.md5
        packets "n.$ext" >n.md5
        [ -s p.md5 ] && grep -q '^1,' p.md5 && ok || ko "$args: no audio packets"
        cmp -s p.md5 n.md5 && ok || ko "$args: the packets differ from --no-pipeline's"
    done
fi

# ---- write errors: exit 1 with the message, promptly. The reference
# kernels decode at a few pictures a second: a decoder that went on after
# the writer failed would take tens of seconds.
ms() { "$py" -c 'import time; print(int(time.monotonic() * 1000))'; }
t0=$(ms)
"$dec" -i a.mkv -o /dev/full --gemm reference --threads 1 --no-pipeline >/dev/null 2>n.err
rc=$?
t1=$(ms)
"$dec" -i a.mkv -o /dev/full --gemm reference --threads 1 >/dev/null 2>p.err
prc=$?
t2=$(ms)
[ "$rc" = 1 ] && [ "$prc" = 1 ] && ok || ko "-o /dev/full: exit $prc (--no-pipeline $rc), want 1"
grep -q "cannot write /dev/full: No space left on device" p.err && ok || ko "-o /dev/full: $(cat p.err)"
cmp -s p.err n.err && ok || ko "-o /dev/full: the messages differ from --no-pipeline's: $(cat p.err) / $(cat n.err)"
echo "-o /dev/full: $((t2 - t1)) ms (--no-pipeline $((t1 - t0)) ms)"
# the pipelined decoder may finish the latent frame it is on (a second one
# or so here, several under ASan): a bound that scales with the machine
[ $((t2 - t1)) -lt $((3 * (t1 - t0) + 3000)) ] && ok || ko "-o /dev/full: $((t2 - t1)) ms, --no-pipeline stops in $((t1 - t0)) ms"
# a reader that goes away: EPIPE (SIGPIPE ignored, as under some shells and
# daemons) is an error like any other
(trap '' PIPE; "$dec" -i a.mkv -o - --threads 1 2>p.err; echo $? >p.rc) | head -c 100 >/dev/null
[ "$(cat p.rc)" = 1 ] && ok || ko "a closed pipe: exit $(cat p.rc), want 1"
grep -q "cannot write -: Broken pipe" p.err && ok || ko "a closed pipe: $(cat p.err)"
if [ "$libav" = true ]; then
    "$dec" -i a.mkv -o /dev/full -f matroska --threads 1 >/dev/null 2>p.err
    [ $? = 1 ] && grep -q "cannot write /dev/full" p.err && ok || ko "-f matroska -o /dev/full: $(cat p.err)"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
