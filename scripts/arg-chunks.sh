#!/usr/bin/env bash
# Encode one input as N GOP-aligned chunks in parallel (GNU parallel) and
# join them with mkvmerge into one seekable ARG file.
#
#   scripts/arg-chunks.sh [-j JOBS] [--sshlogin LOGIN]... [--keep] IN OUT.mkv N [-- ARGENC OPTIONS...]
#
# GOPs are independent, so chunk i is `argenc -i IN -ss S_i -to S_i+1
# --gop-align`, with S_i = i x duration / N snapped down to a GOP start by
# argenc (the first chunk has no -ss, the last no -to); `mkvmerge a.mkv + b.mkv
# + ...` then gives the tokens (and the video timestamps) of one `argenc -i IN
# --gop-align` run with the same options. A chunk that holds no GOP start is
# empty and left out.
#
#   -j JOBS           parallel's job count (default: the number of cores)
#   --sshlogin LOGIN  passed to parallel (repeatable): spread the chunks over
#                     machines; IN, OUT's folder and argenc must be reachable at
#                     the same paths there (a shared file system)
#   --keep            keep the chunk files (OUT.chunks/)
#   ARGENC OPTIONS    e.g. -m arg-s8, -q 0, -vf scale=640:-2, -an. Each job gets
#                     --threads cores/JOBS unless --threads is given.
#
# ARGENC (environment) names the encoder; default: argenc beside this script's
# build (build/tools/argenc) or on PATH. Needs ffprobe, mkvmerge, parallel.
# Prints the wall-clock time. Audio: each chunk's Opus stream starts afresh
# (a 6.5 ms encoder delay at each join).
set -euo pipefail

jobs=
ssh=()
keep=0
pos=()
while [ $# -gt 0 ]; do
    case "$1" in
        -j) [ $# -ge 2 ] || { echo "arg-chunks: -j needs a number" >&2; exit 2; }; jobs=$2; shift 2 ;;
        -j*) jobs=${1#-j}; shift ;;
        --sshlogin|-S) [ $# -ge 2 ] || { echo "arg-chunks: $1 needs a value" >&2; exit 2; }
            ssh+=(--sshlogin "$2"); shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        -*) echo "arg-chunks: unknown option '$1' (try --help)" >&2; exit 2 ;;
        *) pos+=("$1"); shift ;;
    esac
done
extra=("$@")
[ ${#pos[@]} -eq 3 ] || { echo "usage: arg-chunks.sh [-j JOBS] [--sshlogin LOGIN]... IN OUT.mkv N [-- ARGENC OPTIONS]" >&2; exit 2; }
in=${pos[0]} out=${pos[1]} n=${pos[2]}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "arg-chunks: N wants a positive integer, got '$n'" >&2; exit 2; }
[ -z "$jobs" ] || [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "arg-chunks: -j wants a positive integer, got '$jobs'" >&2; exit 2; }
[ -r "$in" ] || { echo "arg-chunks: cannot read '$in'" >&2; exit 1; }
for t in ffprobe mkvmerge parallel; do
    command -v "$t" >/dev/null || { echo "arg-chunks: '$t' not found (Debian: ffmpeg, mkvtoolnix, parallel)" >&2; exit 1; }
done
here=$(cd "$(dirname "$0")/.." && pwd)
argenc=${ARGENC:-}
if [ -z "$argenc" ]; then
    if [ -x "$here/build/tools/argenc" ]; then argenc=$here/build/tools/argenc; else argenc=$(command -v argenc || true); fi
fi
[ -n "$argenc" ] && [ -x "$argenc" ] || { echo "arg-chunks: no argenc (set ARGENC)" >&2; exit 1; }
cores=$(nproc 2>/dev/null || echo 1)
jobs=${jobs:-$cores}
threads=()
has_threads=0
for a in "${extra[@]}"; do [ "$a" = --threads ] && has_threads=1; done
if [ $has_threads -eq 0 ]; then
    per=$(( cores / jobs )); [ $per -ge 1 ] || per=1
    threads=(--threads "$per")
fi
in=$(realpath "$in")
out_abs=$(realpath -m "$out")

dur=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$in" 2>/dev/null || true)
if ! [[ "$dur" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "arg-chunks: ffprobe cannot tell the duration of '$in'" >&2
    exit 1
fi
work="$out_abs.chunks"
rm -rf "$work"
mkdir -p "$work"
trap '[ $keep -eq 1 ] || rm -rf "$work"' EXIT

# chunk i covers [S_i, S_i+1): the same decimal string ends one chunk and
# starts the next, so both snap to the same GOP start
bounds=()
for ((i = 0; i <= n; i++)); do bounds+=("$(awk -v d="$dur" -v i="$i" -v n="$n" 'BEGIN { printf "%.6f", d * i / n }')"); done
cmds="$work/jobs.txt"
: > "$cmds"
q() { printf '%q ' "$@"; }
for ((i = 0; i < n; i++)); do
    range=()
    [ $i -eq 0 ] || range+=(-ss "${bounds[$i]}")
    [ $i -eq $((n - 1)) ] || range+=(-to "${bounds[$((i + 1))]}")
    c=$(printf '%s/chunk%05d' "$work" "$i")
    # a chunk without a GOP start is empty: argenc says so and the join skips it
    echo "$(q "$argenc" -y --quiet -i "$in" "${range[@]}" --gop-align "${threads[@]}" "${extra[@]}" -o "$c.mkv") > $(q "$c.log") 2>&1 || { grep -q 'holds no GOP start' $(q "$c.log") && touch $(q "$c.empty"); } || { cat $(q "$c.log") >&2; exit 1; }" >> "$cmds"
done

t0=$(date +%s.%N)
parallel --will-cite -j "$jobs" "${ssh[@]}" --halt now,fail=1 < "$cmds"
t1=$(date +%s.%N)
parts=()
for ((i = 0; i < n; i++)); do
    c=$(printf '%s/chunk%05d' "$work" "$i")
    [ -e "$c.empty" ] && continue
    [ ${#parts[@]} -eq 0 ] || parts+=(+)
    parts+=("$c.mkv")
done
[ ${#parts[@]} -gt 0 ] || { echo "arg-chunks: every chunk is empty" >&2; exit 1; }
tmp="$out_abs.tmp.$$"
if ! mkvmerge -q -o "$tmp" "${parts[@]}"; then
    rm -f "$tmp"
    echo "arg-chunks: mkvmerge could not join the chunks" >&2
    exit 1
fi
mv "$tmp" "$out_abs"
t2=$(date +%s.%N)
printf 'arg-chunks: %s -> %s: %d chunks (%d non-empty), %s jobs, encode %.2f s + join %.2f s = %.2f s wall\n' \
    "$in" "$out" "$n" "$(( (${#parts[@]} + 1) / 2 ))" "$jobs" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')" \
    "$(awk -v a="$t0" -v b="$t2" 'BEGIN{print b-a}')"
