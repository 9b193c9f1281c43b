#!/bin/sh
# argqual's command line: help, refusals with a message (never a crash), the
# frame-count rules, the output formats and the atomic -o.
# usage: test_argqual_cli.sh ARGQUAL WORKDIR
set -u
q=$1 work=$2
mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
# expect CODE DESCRIPTION CMD...: the exit status is CODE and, for a refusal,
# stderr says "argqual:" (a message, not a crash).
expect() {
    want=$1 what=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        ko "$what: exit $got, want $want ($(head -c 300 "$work/err"))"
    elif [ "$want" -ne 0 ] && ! grep -q "argqual" "$work/err"; then
        ko "$what: no message on stderr"
    else
        ok
    fi
}

a="$work/a.y4m" b="$work/b.y4m" c="$work/c.y4m"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=64x48:rate=25" -frames:v 5 -pix_fmt yuv420p -f yuv4mpegpipe "$a" || exit 1
ffmpeg -v error -y -i "$a" -vf "noise=alls=20:allf=t" -pix_fmt yuv420p -f yuv4mpegpipe "$b" || exit 1
ffmpeg -v error -y -f lavfi -i "testsrc2=size=64x48:rate=25" -frames:v 3 -pix_fmt yuv420p -f yuv4mpegpipe "$c" || exit 1

expect 0 "--help" "$q" --help
grep -q "usage: argqual" "$work/out" || ko "--help prints the usage"
expect 2 "no arguments" "$q"
expect 2 "only -r" "$q" -r "$a"
expect 2 "unknown option" "$q" -r "$a" -d "$b" --bogus
expect 2 "bad --format" "$q" -r "$a" -d "$b" --format xml
expect 2 "bad --frames" "$q" -r "$a" -d "$b" --frames -3
expect 2 "stray argument" "$q" -r "$a" -d "$b" extra
expect 2 "--frames abc" "$q" -r "$a" -d "$b" --frames abc
grep -q "frames wants an integer 1..100000000, got 'abc'" "$work/err" || ko "--frames abc: message names the range"
expect 2 "--frames 2x" "$q" -r "$a" -d "$b" --frames 2x
expect 2 "--frames=0" "$q" -r "$a" -d "$b" --frames=0
expect 2 "-y and -n" "$q" -r "$a" -d "$b" -y -n
expect 0 "--version" "$q" --version
grep -q "^argqual (ARG) [0-9]" "$work/out" || ko "--version prints 'argqual (ARG) VERSION' on stdout"
expect 2 "both inputs on stdin" "$q" -r - -d -
expect 1 "missing file" "$q" -r "$work/nope.y4m" -d "$b"
printf 'not a y4m file\n' >"$work/garbage.y4m"
expect 1 "garbage input" "$q" -r "$a" -d "$work/garbage.y4m"
: >"$work/empty.y4m"
expect 1 "empty input" "$q" -r "$a" -d "$work/empty.y4m"
head -c 5000 "$b" >"$work/trunc.y4m"
expect 1 "truncated picture" "$q" -r "$a" -d "$work/trunc.y4m"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=48x48:rate=25" -frames:v 5 -pix_fmt yuv420p -f yuv4mpegpipe "$work/size.y4m"
expect 1 "different sizes" "$q" -r "$a" -d "$work/size.y4m"
grep -q "sizes differ" "$work/err" || ko "different sizes: message names the sizes"
ffmpeg -v error -y -i "$a" -pix_fmt yuv444p -f yuv4mpegpipe "$work/444.y4m"
expect 1 "different chroma subsampling" "$q" -r "$a" -d "$work/444.y4m"
expect 1 "different picture counts" "$q" -r "$a" -d "$c"
grep -q -- "--frames" "$work/err" || ko "different counts: message suggests --frames"
expect 0 "--frames 3 on clips of 5 and 3 pictures" "$q" -r "$a" -d "$c" --frames 3
expect 1 "--frames 4 when one clip has 3" "$q" -r "$a" -d "$c" --frames 4
# identical prefixes: pictures 0..2 of a and c are the same testsrc2 pictures
expect 0 "identical prefix" "$q" -r "$a" -d "$c" --frames 3 --format json
grep -q '"psnr_y": 100.000000' "$work/out" || ko "identical prefix gives the 100 dB cap"
expect 0 "stdin reference" sh -c "cat '$a' | '$q' -r - -d '$b' --format csv"
[ "$(wc -l <"$work/out")" -eq 2 ] || ko "csv: a header and one row"
head -n 1 "$work/out" | grep -q '^frame,psnr_y,psnr_u,psnr_v,psnr_yuv,psnr_all,ssim_y,ssim_u,ssim_v,msssim_y' ||
    ko "csv header"
expect 0 "csv per frame" "$q" -r "$a" -d "$b" --format csv --per-frame
[ "$(wc -l <"$work/out")" -eq 7 ] || ko "csv --per-frame: header, 5 pictures, all"
expect 0 "json per frame" "$q" -r "$a" -d "$b" --format json --per-frame
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['frames']==5 and len(d['per_frame'])==5" \
    "$work/out" || ko "json --per-frame parses with 5 entries"
expect 0 "--psnr-only" "$q" -r "$a" -d "$b" --format json --psnr-only
grep -q ssim "$work/out" && ko "--psnr-only prints no SSIM"
# MS-SSIM needs 16x16: a 12x12 clip gives null, not a failure
ffmpeg -v error -y -f lavfi -i "testsrc2=size=12x12:rate=25" -frames:v 2 -pix_fmt yuv420p -f yuv4mpegpipe "$work/t1.y4m"
ffmpeg -v error -y -i "$work/t1.y4m" -vf "noise=alls=20" -pix_fmt yuv420p -f yuv4mpegpipe "$work/t2.y4m"
expect 0 "12x12 clip" "$q" -r "$work/t1.y4m" -d "$work/t2.y4m" --format json
grep -q '"msssim_y": null' "$work/out" || ko "12x12: MS-SSIM is null"
grep -q '"ssimff_u": null' "$work/out" || ko "12x12: 6x6 chroma has no 8x8 block SSIM"
# -o: atomic, no temporary file left, a device is written in place
rm -f "$work"/res.json*
expect 0 "-o FILE" "$q" -r "$a" -d "$b" --format json -o "$work/res.json"
[ -s "$work/res.json" ] || ko "-o writes the file"
[ -z "$(ls "$work" | grep 'res.json.tmp')" ] || ko "-o leaves no temporary file"
# an existing output: refused without -y (and with -n), replaced with -y
echo old >"$work/res.json"
expect 1 "-o over an existing file" "$q" -r "$a" -d "$b" --format json -o "$work/res.json"
grep -q "exists; use -y to overwrite" "$work/err" || ko "existing output: message suggests -y"
[ "$(cat "$work/res.json")" = old ] || ko "a refused output is left alone"
expect 1 "-n over an existing file" "$q" -r "$a" -d "$b" --format json -o "$work/res.json" -n
[ "$(cat "$work/res.json")" = old ] || ko "-n leaves the file alone"
expect 0 "-y over an existing file" "$q" -r "$a" -d "$b" --format json -o "$work/res.json" -y
grep -q '"frames": 5' "$work/res.json" || ko "-y replaced the file"
expect 0 "-o - is standard output" "$q" -r "$a" -d "$b" --format csv -o -
[ "$(wc -l <"$work/out")" -eq 2 ] || ko "-o -: the result on stdout"
[ ! -e ./- ] && [ ! -e "$work/-" ] || ko "-o - made a file named -"
[ -z "$(ls "$work" | grep 'res.json.tmp')" ] || ko "no temporary file left"
expect 0 "-o /dev/null" "$q" -r "$a" -d "$b" -o /dev/null
[ -c /dev/null ] || ko "/dev/null is still a character device"
expect 1 "-o into a missing folder" "$q" -r "$a" -d "$b" -o "$work/no/such/dir/x.json"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
