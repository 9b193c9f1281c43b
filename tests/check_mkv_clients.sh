#!/bin/sh
# Independent clients read the container: mkvmerge -J and ffprobe must both
# find an ARG video track (V_ARG) and an Opus audio track with the right
# parameters, and the duration.
# usage: check_mkv_clients.sh TEST_MKV_BIN WORKDIR
set -eu
bin=$1 work=$2
mkdir -p "$work"
"$bin" "$work" >/dev/null
f="$work/roundtrip.mkv"
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
if command -v mkvmerge >/dev/null 2>&1; then
    j=$(mkvmerge -J "$f")
    check "mkvmerge sees V_ARG 104x64" "echo '$j' | grep -q '\"codec_id\": \"V_ARG\"' && echo '$j' | grep -q '\"pixel_dimensions\": \"104x64\"'"
    check "mkvmerge sees A_OPUS 48000" "echo '$j' | grep -q '\"codec_id\": \"A_OPUS\"' && echo '$j' | grep -q '\"audio_sampling_frequency\": 48000'"
    check "mkvmerge reports no errors" "echo '$j' | grep -q '\"errors\": \[\]'"
else
    echo "mkvmerge missing (install mkvtoolnix)"; fail=$((fail + 1))
fi
if command -v ffprobe >/dev/null 2>&1; then
    p=$(ffprobe -v error -show_entries stream=codec_type,codec_name,width,height,sample_rate:format=duration -of default=nw=1 "$f")
    check "ffprobe sees the video track 104x64" "echo '$p' | grep -q '^width=104' && echo '$p' | grep -q '^height=64'"
    check "ffprobe sees the opus track" "echo '$p' | grep -q '^codec_name=opus' && echo '$p' | grep -q '^sample_rate=48000'"
    check "ffprobe duration 14.8 s" "echo '$p' | grep -q '^duration=14.8'"
else
    echo "ffprobe missing (install ffmpeg)"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
