#!/bin/sh
# The command lines of argtok and argbench (tools/common/cli.h): --help,
# --version, strict values, the overwrite policy, atomic outputs, '-' for
# stdout, and argtok's clean stop on a signal and its hard stop on a second.
# usage: test_tools_cli.sh BUILD_TOOLS_DIR MODEL WORKDIR
set -u
tools=$1 model=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
# expect CODE DESCRIPTION CMD...: exit status CODE; a refusal says "TOOL:".
expect() {
    want=$1 what=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        ko "$what: exit $got, want $want ($(head -c 300 "$work/err"))"
    elif [ "$want" -ne 0 ] && ! grep -q "^arg[a-z]*: " "$work/err"; then
        ko "$what: no 'TOOL: ' message on stderr"
    else
        ok
    fi
}
# err_has TEXT: the last stderr holds TEXT
err_has() { grep -q -F -- "$1" "$work/err" || ko "stderr lacks '$1': $(head -c 300 "$work/err")"; }

# a 32x32 4:2:0 clip of N pictures on stdout
clip() {
    printf 'YUV4MPEG2 W32 H32 F25:1 Ip A1:1 C420jpeg\n'
    i=0
    while [ "$i" -lt "$1" ]; do
        printf 'FRAME\n'
        head -c 1536 /dev/zero | tr '\0' "\\$((100 + i))"
        i=$((i + 1))
    done
}
clip 6 >"$work/a.y4m"
tok=$tools/argtok bench=$tools/argbench
umask 022

# ---------------------------------------------------------------- argtok
expect 0 "argtok --version" "$tok" --version
grep -q '^argtok (ARG) [0-9][0-9.]*$' "$work/out" || ko "argtok --version prints 'argtok (ARG) VERSION'"
expect 0 "argtok --help" "$tok" --help
grep -q '^usage: argtok ' "$work/out" || ko "argtok --help prints the usage on stdout"
grep -q -- '--stats FILE' "$work/out" || ko "argtok --help lists --stats"
expect 2 "argtok without -m" "$tok" -i "$work/a.y4m"
err_has "-m FILE is required"
expect 2 "argtok --frames abc" "$tok" -i "$work/a.y4m" -m "$model" --frames abc
err_has "--frames wants an integer >= 1, got 'abc'"
expect 2 "argtok --frames -3" "$tok" -i "$work/a.y4m" -m "$model" --frames -3
expect 2 "argtok --frames 0" "$tok" -i "$work/a.y4m" -m "$model" --frames 0
expect 2 "argtok --threads 2000" "$tok" -i "$work/a.y4m" -m "$model" --threads 2000
err_has "--threads wants an integer 0..1024, got '2000'"
expect 2 "argtok --gemm fast" "$tok" -i "$work/a.y4m" -m "$model" --gemm fast
err_has "--gemm wants auto, builtin, blas, reference or int8, got 'fast'"
expect 2 "argtok --device 256" "$tok" -i "$work/a.y4m" -m "$model" --device 256
expect 2 "argtok -threads" "$tok" -i "$work/a.y4m" -m "$model" -threads 2
err_has "did you mean --threads?"
expect 2 "argtok two -i" "$tok" -i "$work/a.y4m" -i "$work/a.y4m" -m "$model"
err_has "-i is given twice"
expect 2 "argtok stray argument" "$tok" -i "$work/a.y4m" -m "$model" extra
expect 2 "argtok two outputs on stdout" "$tok" -i "$work/a.y4m" -m "$model" -o - --stats -
expect 2 "argtok -y -n" "$tok" -i "$work/a.y4m" -m "$model" -y -n

o=$work/r.y4m t=$work/t.bin s=$work/s.json
expect 0 "argtok writes -o, --tokens-out, --stats" "$tok" -i "$work/a.y4m" -m "$model" --threads 1 --quiet \
    -o "$o" --tokens-out "$t" --stats "$s"
[ "$(grep -c FRAME "$o")" -eq 6 ] || ko "-o has 6 pictures"
[ "$(stat -c %a "$o")" = 644 ] && [ "$(stat -c %a "$t")" = 644 ] && [ "$(stat -c %a "$s")" = 644 ] ||
    ko "outputs get 0666 & ~umask (644): $(stat -c %a "$o" "$t" "$s" | tr '\n' ' ')"
grep -q '"pictures": 6' "$s" && grep -q '"interrupted": false' "$s" || ko "--stats JSON"
grep -q '^PSNR: ' "$work/out" || ko "the report is on stdout"
[ -z "$(ls "$work" | grep '\.tmp\.')" ] || ko "no temporary file left"
lat=$(sed -n 's/.*"latent_frames": \([0-9]*\).*/\1/p' "$s")
tw=$(sed -n 's/.*"tokens_w": \([0-9]*\).*/\1/p' "$s")
th=$(sed -n 's/.*"tokens_h": \([0-9]*\).*/\1/p' "$s")
[ "$(stat -c %s "$t")" -eq $((lat * tw * th * 4)) ] || ko "--tokens-out size: latent frames x tokens x 4"
sum=$(cksum <"$o")
expect 1 "argtok over an existing output" "$tok" -i "$work/a.y4m" -m "$model" --quiet -o "$o"
err_has "'$o' exists; use -y to overwrite"
expect 1 "argtok -n over an existing --stats" "$tok" -i "$work/a.y4m" -m "$model" --quiet --stats "$s" -n
err_has "exists and -n forbids overwriting it"
[ "$(cksum <"$o")" = "$sum" ] || ko "a refused output is untouched"
expect 0 "argtok -y" "$tok" -i "$work/a.y4m" -m "$model" --quiet --threads 1 -o "$o" --frames 2 -y
[ "$(grep -c FRAME "$o")" -eq 2 ] || ko "-y replaced the output"
expect 0 "argtok -o -" "$tok" -i "$work/a.y4m" -m "$model" --quiet --threads 1 -o -
[ "$(head -c 9 "$work/out")" = YUV4MPEG2 ] || ko "-o -: the Y4M on stdout"
grep -q '^PSNR: ' "$work/err" || ko "-o -: the report on stderr"
[ ! -e "$work/-" ] && [ ! -e ./- ] || ko "-o - made a file named -"
expect 0 "argtok --stats -" "$tok" -i "$work/a.y4m" -m "$model" --quiet --threads 1 --stats -
grep -q '"tool": "argtok"' "$work/out" || ko "--stats -: the JSON on stdout"
grep -q '^PSNR: ' "$work/err" || ko "--stats -: the report on stderr"
expect 1 "argtok -o into a missing folder" "$tok" -i "$work/a.y4m" -m "$model" --quiet -o "$work/no/such/x.y4m"

# a slow producer: a picture every 0.3 s, or two and then a pause
slow() {
    printf 'YUV4MPEG2 W32 H32 F25:1 Ip A1:1 C420jpeg\n'
    i=0
    while [ "$i" -lt 20 ]; do
        printf 'FRAME\n'
        head -c 1536 /dev/zero | tr '\0' '\200'
        i=$((i + 1))
        if [ "$1" = pause ] && [ "$i" -eq 2 ]; then sleep 4; else sleep 0.3; fi
    done
}
# one SIGTERM: the pictures read are finished, outputs committed, exit 143
rm -f "$work"/int.*
mkfifo "$work/fifo"
slow steady >"$work/fifo" &
prod=$!
"$tok" -i "$work/fifo" -m "$model" --threads 1 -o "$work/int.y4m" --stats "$work/int.json" >"$work/out" 2>"$work/err" &
pid=$!
sleep 1.5
kill -TERM "$pid"
wait "$pid"
rc=$?
kill "$prod" 2>/dev/null
wait "$prod" 2>/dev/null
[ "$rc" -eq 143 ] && ok || ko "one SIGTERM: exit $rc, want 143 ($(cat "$work/err"))"
n=$(grep -c FRAME "$work/int.y4m" 2>/dev/null || echo 0)
[ "$n" -ge 1 ] && [ "$n" -lt 20 ] && ok || ko "one SIGTERM: the output has the $n pictures read"
grep -q '"interrupted": true' "$work/int.json" && ok || ko "one SIGTERM: --stats says interrupted"
grep -q "interrupted: the outputs and the report cover the first" "$work/err" && ok || ko "one SIGTERM: a note"
# two: stop at once, temporary files removed
rm -f "$work"/int.*
slow pause >"$work/fifo" &
prod=$!
"$tok" -i "$work/fifo" -m "$model" --threads 1 -o "$work/int.y4m" --tokens-out "$work/int.bin" >"$work/out" 2>"$work/err" &
pid=$!
sleep 1.5
[ -n "$(ls "$work" | grep 'int.y4m.tmp.')" ] && ok || ko "a temporary file while writing"
kill -TERM "$pid"
sleep 0.5
kill -TERM "$pid"
wait "$pid"
rc=$?
kill "$prod" 2>/dev/null
wait "$prod" 2>/dev/null
[ "$rc" -eq 143 ] && ok || ko "two SIGTERM: exit $rc, want 143"
[ -z "$(ls "$work" | grep '^int\.')" ] && ok || ko "two SIGTERM: files left: $(ls "$work" | grep '^int\.')"
grep -q "temporary files removed" "$work/err" && ok || ko "two SIGTERM: a message"
rm -f "$work/fifo"

# -------------------------------------------------------------- argbench
expect 0 "argbench --version" "$bench" --version
grep -q '^argbench (ARG) [0-9][0-9.]*$' "$work/out" || ko "argbench --version"
expect 0 "argbench --help" "$bench" --help
grep -q '^usage: argbench ' "$work/out" || ko "argbench --help prints the usage"
expect 0 "argbench --list-devices" "$bench" --list-devices
expect 2 "argbench without -m" "$bench" --frames 2
expect 2 "argbench --frames 0" "$bench" -m "$model" --frames 0
err_has "--frames wants an integer 1..1000000, got '0'"
expect 2 "argbench --frames abc" "$bench" -m "$model" --frames abc
expect 2 "argbench -s 640" "$bench" -m "$model" -s 640
err_has "-s wants WxH"
expect 2 "argbench -s 0x10" "$bench" -m "$model" -s 0x10
expect 2 "argbench --rss 5" "$bench" -m "$model" --rss 5
expect 2 "argbench --threads x" "$bench" -m "$model" --threads x
expect 2 "argbench --peak-gflops inf" "$bench" -m "$model" --peak-gflops inf
expect 2 "argbench --backend gpu" "$bench" -m "$model" --backend gpu
err_has "--backend wants cpu, vulkan, auto or both"
expect 0 "argbench runs" "$bench" -m "$model" -s 16x16 --frames 2 --threads 1 --backend cpu --gemm builtin
grep -q '^  encode ' "$work/out" && grep -q '^16x16, 2 frames:' "$work/out" || ko "argbench prints the speeds"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
