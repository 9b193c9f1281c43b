#!/bin/sh
# argenc / argdec as a newcomer uses them (issue "libarg owns the stream"):
# strict options, stdin/stdout, -y/-n, signals, progress, truncated
# streams, frame rate and duration seen by ffprobe, tags, audio trimmed to
# --frames, --stats JSON. One check per row of what a newcomer found.
# usage: test_cli_codec.sh BUILD_TOOLS_DIR SRCDIR WORKDIR PYTHON
set -u
tools=$(cd "$1" && pwd) src=$(cd "$2" && pwd) work=$3 py=$4
rm -rf "$work"
mkdir -p "$work"
enc=$tools/argenc dec=$tools/argdec
model=$src/models/arg-s16.safetensors
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok; else ko "$1"; fi; }
# expect RC NAME CMD...: run with stdout/stderr to files, compare the status
expect() {
    want=$1 name=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err" </dev/null
    got=$?
    [ "$got" = "$want" ] && ok || ko "$name: exit $got, want $want ($(head -c 300 "$work/err"))"
}
err_has() { grep -q -F -- "$1" "$work/err" && ok || ko "stderr lacks '$1': $(head -c 300 "$work/err")"; }

ffmpeg -v error -y -f lavfi -i "testsrc2=size=64x48:rate=25" -frames:v 23 -pix_fmt yuv420p -f yuv4mpegpipe "$work/a.y4m" \
    || { echo "ffmpeg cannot make the test clip"; exit 1; }
cd "$work" || exit 1

# ---- options: strict numbers, hints, --version
expect 2 "-q abc" "$enc" -i a.y4m -o x.mkv -q abc
err_has "argenc: -q wants an integer 0..2, got 'abc'"
expect 2 "-q -1" "$enc" -i a.y4m -o x.mkv -q -1
err_has "-q wants an integer"
expect 2 "-q 9 names the range" "$enc" -i a.y4m -o x.mkv -q 9
err_has "-q wants an integer 0..2"
expect 2 "--frames -3" "$enc" -i a.y4m -o x.mkv --frames -3
err_has "--frames wants an integer >= 1, got '-3'"
expect 2 "--frames abc" "$enc" -i a.y4m -o x.mkv --frames abc
err_has "--frames wants an integer"
expect 2 "argdec -ss abc" "$dec" -i x.mkv -o x.y4m -ss abc
err_has "-ss wants"
expect 2 "-b:v with -q" "$enc" -i a.y4m -o x.mkv -b:v 50k -q 1
err_has "-b:v picks the operating point: leave out -m and -q"
expect 2 "-crf" "$enc" -i a.y4m -o x.mkv -crf 20
err_has "-crf is not supported"
expect 2 "-b:a 5k" "$enc" -i a.y4m -o x.mkv -b:a 5k
err_has "-b:a wants"
expect 2 "an unknown option names itself" "$enc" -i a.y4m -o x.mkv --fast
err_has "--fast"
for t in argenc argdec argentropy argtok argbench argqual; do
    expect 0 "$t --version" "$tools/$t" --version
    grep -q "^$t (ARG) [0-9][0-9.]*\$" out && ok || ko "$t --version prints '$t (ARG) VERSION'"
done
expect 2 "argtok -g is not the GOP" "$tools/argtok" -i a.y4m -m "$model" -g builtin
err_has "--gemm"
[ ! -e x.mkv ] && ok || ko "no output after refused options"

# ---- a reference encode and the overwrite policy
expect 0 "argenc" "$enc" -i a.y4m -o a.mkv -m "$model" -g 2 --threads 1 --stats a.json
tok=$(sed -n 's/^tokens //p' out)
[ -n "$tok" ] && ok || ko "argenc prints the token hash"
expect 1 "an existing output is refused" "$enc" -i a.y4m -o a.mkv -m "$model"
err_has "'a.mkv' exists; use -y to overwrite"
expect 1 "-n never overwrites" "$enc" -i a.y4m -o a.mkv -m "$model" -n
err_has "-n forbids"
expect 0 "-y overwrites" "$enc" -i a.y4m -o a.mkv -m "$model" -g 2 --threads 1 -y
[ "$(sed -n 's/^tokens //p' out)" = "$tok" ] && ok || ko "-y: the same tokens"

# ---- stdin and stdout
"$enc" -i - -o - -m "$model" -g 2 --threads 1 <a.y4m >stdout.mkv 2>err || ko "argenc -i - -o -"
[ "$(head -c 4 stdout.mkv | od -An -tx1 | tr -d ' \n')" = "1a45dfa3" ] && ok || ko "-o -: Matroska on stdout"
[ ! -e ./- ] && ok || ko "-o - made a file named '-'"
grep -q "^tokens $tok\$" err && ok || ko "-o -: the summary goes to stderr"
cmp -s stdout.mkv a.mkv && ok || ko "-o -: the same file as -o a.mkv"
stdin_tmps() { ls "${TMPDIR:-/tmp}" | grep -c "^argdec-stdin-"; }
before=$(stdin_tmps)
"$dec" -i - --verify <a.mkv >out 2>err || ko "argdec -i -"
grep -q "^tokens $tok\$" out && ok || ko "argdec -i - decodes the same tokens"
[ "$(stdin_tmps)" = "$before" ] && ok || ko "argdec -i - leaves no temporary file"

# ---- audio: --frames trims it; --audio - writes WAV to stdout
ffmpeg -v error -y -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=2.26" -ac 2 tone.wav
expect 0 "argenc --frames 17 with audio" "$enc" -i a.y4m -i tone.wav -o av.mkv -m "$model" --frames 17 --threads 1 \
    --stats av.json
expect 0 "argdec --audio" "$dec" -i av.mkv --audio av.wav -o av.y4m
"$dec" -i av.mkv --audio - >stdout.wav 2>err || ko "argdec --audio -"
[ "$(head -c 4 stdout.wav)" = "RIFF" ] && ok || ko "--audio -: WAV on stdout"
[ ! -e ./- ] && ok || ko "--audio - made a file named '-'"
"$py" - av.wav stdout.wav <<'PY' && ok || ko "audio length is the video's (17 pictures at 25/s = 0.68 s)"
import sys, wave
a = wave.open(sys.argv[1]); n = a.getnframes()
b = open(sys.argv[2], 'rb').read()
print("audio: %d samples = %.4f s; stdout WAV %d data bytes" % (n, n / 48000, len(b) - 44))
sys.exit(0 if abs(n / 48000 - 0.68) <= 0.04 and len(b) - 44 == n * 4 else 1)
PY
[ "$(grep -c FRAME av.y4m)" = 17 ] && ok || ko "17 pictures"

# ---- frame rate, duration and tags as ffprobe and mkvinfo see them
for r in 30000/1001 25 26777/1000; do
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=64x48:rate=$r" -frames:v 21 -pix_fmt yuv420p -f yuv4mpegpipe r.y4m
    "$enc" -i r.y4m -o r.mkv -m "$model" --threads 1 -y >/dev/null 2>&1 || ko "encode at $r"
    got=$(ffprobe -v error -select_streams v -show_entries stream=r_frame_rate -of csv=p=0 r.mkv)
    want=$r
    [ "$r" = 25 ] && want=25/1
    [ "$got" = "$want" ] && ok || ko "ffprobe r_frame_rate $got, source $want"
    d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 r.mkv)
    "$py" -c "import sys; from fractions import Fraction as F; n, d = '$r/1'.split('/')[:2]; sys.exit(0 if abs($d - 21 / float(F(int(n), int(d)))) < 0.0015 else 1)" \
        && ok || ko "duration $d s for 21 pictures at $r"
done
if command -v mediainfo >/dev/null 2>&1; then
    # mediainfo reads the duration right; it calls the rate "Variable", from the
    # block timestamps (1 picture, then 4 per block), and prints no frame rate
    md=$(mediainfo --Inform="General;%Duration%" r.mkv)
    [ "$md" = "784" ] && ok || ko "mediainfo duration $md ms, want 784"
fi
tags=$(ffprobe -v error -show_entries format_tags -of default=nw=1 a.mkv)
echo "$tags" | grep -q "ENCODER_SETTINGS=.*model=arg-s16" && ok || ko "ENCODER_SETTINGS names the model: $tags"
echo "$tags" | grep -q "/" && ko "no path in the tags: $tags" || ok
echo "$tags" | grep -q "ARG_MODEL_ID=[0-9a-f]\{16\}" && ok || ko "ARG_MODEL_ID tag"

# ---- --stats JSON of both tools
"$dec" -i av.mkv -o /dev/null --audio /dev/null --stats dec.json 2>/dev/null || ko "argdec --stats"
"$py" - a.json av.json dec.json a.mkv av.mkv <<'PY' && ok || ko "--stats JSON"
import json, os, sys
e, ea, d = (json.load(open(p)) for p in sys.argv[1:4])
for j in (e, ea, d):
    for k in ("elapsed_s", "file_bytes", "video_kbps", "audio_kbps", "pictures"):
        assert k in j, k
assert e["file_bytes"] == os.path.getsize(sys.argv[4]), "file size"
assert e["pictures"] == 23 and ea["pictures"] == 17 and d["pictures"] == 17
assert e["audio_kbps"] == 0 and ea["audio_kbps"] > 20 and d["audio_kbps"] > 20
assert abs(ea["video_kbps"] - d["video_kbps"]) < 0.01 * ea["video_kbps"] + 0.01
assert d["file_bytes"] == os.path.getsize(sys.argv[5])
PY

# ---- progress and truncated streams
expect 2 "two outputs on stdout" "$dec" -i a.mkv -o - --stats -
err_has "only one of -o, --audio and --stats"
expect 0 "argdec --progress" "$dec" -i a.mkv -o /dev/null --progress --threads 1
grep -q "frame [0-9]*/23 " err && ok || ko "argdec's progress line: $(head -c 200 err)"
size=$(wc -c <a.mkv)
head -c $((size * 2 / 3)) a.mkv >cut.mkv
expect 3 "a truncated stream is an error" "$dec" -i cut.mkv -o cut.y4m
err_has "of the 23 pictures its header announces"
[ ! -e cut.y4m ] && ok || ko "no output from a truncated stream"
expect 0 "--allow-truncated" "$dec" -i cut.mkv -o cut.y4m --allow-truncated
err_has "warning:"
n=$(grep -c FRAME cut.y4m)
[ "$n" -gt 0 ] && [ "$n" -lt 23 ] && ok || ko "--allow-truncated keeps the $n decoded pictures"

# ---- signals: argenc keeps a valid shorter file on the first, removes it on the second
# 64x48 4:2:0 pictures are 4608 bytes + "FRAME\n"; GOP -g 2 = 1 + 4 = 5 pictures
"$py" - <<'PY' || ko "cannot make the long clip"
import subprocess
subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                "-frames:v", "60", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "long.y4m"], check=True)
PY
for sigs in 1 2; do
    rm -f sig.mkv sig.mkv.tmp.* fifo
    mkfifo fifo
    "$enc" -i fifo -o sig.mkv -m "$model" -g 2 --threads 1 >sig.out 2>sig.err &
    pid=$!
    "$py" - "$pid" "$sigs" <<'PY'
import os, signal, sys, time
pid, sigs = int(sys.argv[1]), int(sys.argv[2])
data = open("long.y4m", "rb").read()
head = data.index(b"\n") + 1
frame = 6 + 64 * 48 * 3 // 2
deadline = time.time() + 20
while True:  # never block on a FIFO nobody opens (argenc failed to start)
    try:
        fd = os.open("fifo", os.O_WRONLY | os.O_NONBLOCK)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit(1)
        time.sleep(0.05)
os.set_blocking(fd, True)
with os.fdopen(fd, "wb", buffering=0) as f:
    f.write(data[:head + 7 * frame])      # 7 pictures: the second GOP has begun
    time.sleep(1.0)
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.3)
    if sigs == 2:
        os.kill(pid, signal.SIGTERM)
        time.sleep(0.3)
    try:
        f.write(data[head + 7 * frame:])  # 53 more, if it still reads
    except BrokenPipeError:
        pass
PY
    wait $pid
    rc=$?
    [ "$rc" = 143 ] && ok || ko "$sigs SIGTERM: exit $rc, want 143 ($(cat sig.err))"
    [ -z "$(ls | grep 'sig.mkv.tmp')" ] && ok || ko "$sigs SIGTERM: a temporary file is left"
    if [ "$sigs" = 1 ]; then
        grep -q "interrupted after 10 pictures; output kept" sig.err && ok || ko "one SIGTERM: $(cat sig.err)"
        "$dec" -i sig.mkv --verify >out 2>/dev/null && grep -q "^pictures 10\$" out && ok \
            || ko "one SIGTERM: a valid file of 10 pictures (the GOP finished)"
        d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 sig.mkv)
        [ "$d" = "0.400000" ] && ok || ko "one SIGTERM: Info duration $d"
    else
        [ ! -e sig.mkv ] && ok || ko "two SIGTERMs: no output"
    fi
done
# argdec removes its partial outputs: its WAV goes into a FIFO whose reader
# stops reading, so argdec blocks mid-stream with part.y4m.tmp.* open
ffmpeg -v error -y -f lavfi -i "sine=frequency=300:sample_rate=48000:duration=2.4" -ac 2 long.wav
"$enc" -i long.y4m -i long.wav -o long.mkv -m "$model" --threads 1 -y >/dev/null 2>&1 || ko "encode long.mkv"
rm -f fifo
mkfifo fifo
"$py" -c "import time; f = open('fifo', 'rb'); f.read(1000); time.sleep(8)" &
reader=$!
"$dec" -i long.mkv -o part.y4m --audio fifo --threads 1 >/dev/null 2>dec.err &
pid=$!
sleep 2
[ -n "$(ls | grep '^part.y4m.tmp.')" ] && ok || ko "argdec writes part.y4m.tmp.* while decoding"
kill -TERM $pid
wait $pid
rc=$?
kill $reader 2>/dev/null
wait $reader 2>/dev/null
[ "$rc" = 143 ] && ok || ko "argdec SIGTERM: exit $rc ($(cat dec.err))"
[ -z "$(ls | grep '^part.y4m')" ] && ok || ko "argdec SIGTERM: partial output left: $(ls | grep part)"
# and the copy of stdin
before=$(stdin_tmps)
rm -f fifo
mkfifo fifo
"$dec" -i - -o part.y4m --threads 1 <fifo >/dev/null 2>dec.err &
pid=$!
exec 3>fifo
head -c 1000 long.mkv >&3
sleep 0.5
kill -TERM $pid
wait $pid
rc=$?
exec 3>&-
[ "$rc" = 143 ] && ok || ko "argdec SIGTERM while reading stdin: exit $rc"
[ "$(stdin_tmps)" = "$before" ] && ok || ko "argdec SIGTERM: the copy of stdin is left"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
