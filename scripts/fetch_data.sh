#!/usr/bin/env bash
# Fetch real camera footage from Debian's opencv-doc package and convert it to
# 2x downscaled 8-bit 4:2:0 Y4M files (see shared/design/DATA.md).
#
#   bash scripts/fetch_data.sh [--frames N] [--force] [--keep-deb] [DIR]
#
# DIR (default: data/, git-ignored) receives:
#   vtest.y4m  384x288 @ 10       fixed surveillance camera, pedestrians (795 frames)
#   box.y4m    320x240 @ 29.97    hand-held, box                          (455 frames)
#   cup.y4m    320x240 @ 26.777   hand, cup                               (217 frames)
#   tree.y4m   160x120 @ 7/3      foliage                                 (68 frames)
#   cache/     the source clips as unpacked from the package
#
# --frames N  convert at most the first N frames of each clip. A Y4M that is
#             already there and holds at least N frames (or the whole clip) is
#             kept, so the script is idempotent: what exists is skipped.
# --force     convert again even when the output exists.
# --keep-deb  keep the downloaded .deb in DIR/cache (otherwise deleted once
#             the clips are unpacked).
#
# Notes on the sources (checked against opencv-doc 4.6.0+dfsg-12):
# * box.mp4 has no composition offsets (pts == dts) although it has B-frames,
#   so ffmpeg's timestamps are out of order; the decoder's output order is the
#   display order, so timestamps are regenerated from the frame index.
#   Its first access unit carries a broken slice ("non-intra slice in an IDR
#   NAL unit"); the decoder drops it, leaving 455 intact frames of 456.
#   BOX_SKIP=N (environment) drops N more leading frames if wanted.
# * tree.avi is nominally 444 frames at 15 fps but only 68 are real pictures
#   (the rest are empty "repeat" chunks). The real ones are kept, one each, at
#   7/3 fps (68 pictures over the clip's 29.5 s).
set -euo pipefail

frames=all
force=0
keep_deb=0
dir=
while [ $# -gt 0 ]; do
    case "$1" in
        --frames)
            [ $# -ge 2 ] || { echo "fetch_data: --frames needs a number" >&2; exit 2; }
            frames=$2; shift 2 ;;
        --frames=*) frames=${1#--frames=}; shift ;;
        --force) force=1; shift ;;
        --keep-deb) keep_deb=1; shift ;;
        -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fetch_data: unknown option '$1' (try --help)" >&2; exit 2 ;;
        *)
            [ -z "$dir" ] || { echo "fetch_data: only one DIR may be given" >&2; exit 2; }
            dir=$1; shift ;;
    esac
done
dir=${dir:-data}
if [ "$frames" != all ] && ! [[ "$frames" =~ ^[1-9][0-9]*$ ]]; then
    echo "fetch_data: --frames wants a positive integer, got '$frames'" >&2
    exit 2
fi
box_skip=${BOX_SKIP:-0}
[[ "$box_skip" =~ ^[0-9]+$ ]] || { echo "fetch_data: BOX_SKIP must be a number" >&2; exit 2; }

for tool in ffmpeg dpkg-deb apt-get tar gzip; do
    command -v "$tool" >/dev/null || {
        echo "fetch_data: '$tool' not found; run scripts/bootstrap.sh first" >&2; exit 1; }
done

start=$(date +%s.%N)
mkdir -p "$dir/cache"
cache="$dir/cache"
PKG=opencv-doc
DOC=usr/share/doc/opencv-doc

# name | path inside the package | rate of the output | source file in the cache
CLIPS=(
    "vtest|$DOC/examples/data/vtest.avi|10|vtest.avi"
    "box|$DOC/opencv4/html/box.mp4.gz|30000/1001|box.mp4"
    "cup|$DOC/opencv4/html/cup.mp4.gz|26777/1000|cup.mp4"
    "tree|$DOC/examples/data/tree.avi|7/3|tree.avi"
)

# ---- 1. the source clips --------------------------------------------------
need_src=()
for c in "${CLIPS[@]}"; do
    IFS='|' read -r name path rate src <<<"$c"
    [ -s "$cache/$src" ] || need_src+=("$c")
done

if [ ${#need_src[@]} -gt 0 ]; then
    deb=$(ls "$cache"/${PKG}_*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$deb" ]; then
        echo "fetch_data: apt-get download $PKG"
        dl=$(mktemp -d "$cache/dl.XXXXXX")
        # apt drops to user _apt for downloads: let it write here (quiet warning).
        if id _apt >/dev/null 2>&1; then chown _apt "$dl" 2>/dev/null || true; fi
        if ! (cd "$dl" && apt-get download -q "$PKG"); then
            echo "fetch_data: download failed; refreshing the package lists once"
            apt-get update -q
            (cd "$dl" && apt-get download -q "$PKG")
        fi
        mv "$dl"/${PKG}_*.deb "$cache/"
        rmdir "$dl"
        deb=$(ls "$cache"/${PKG}_*.deb | head -n 1)
    else
        echo "fetch_data: using $deb"
    fi
    # Unpack only the members needed (the whole package is ~300 MB unpacked).
    ex=$(mktemp -d "$cache/x.XXXXXX")
    members=()
    for c in "${need_src[@]}"; do
        IFS='|' read -r name path rate src <<<"$c"
        members+=("./$path")
    done
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$ex" "${members[@]}"
    for c in "${need_src[@]}"; do
        IFS='|' read -r name path rate src <<<"$c"
        if [[ "$path" == *.gz ]]; then
            gzip -dc "$ex/$path" > "$cache/$src.tmp"
        else
            cp "$ex/$path" "$cache/$src.tmp"
        fi
        mv "$cache/$src.tmp" "$cache/$src"
        echo "fetch_data: unpacked $path -> $cache/$src ($(stat -c %s "$cache/$src") bytes)"
    done
    rm -rf "$ex"
    if [ $keep_deb -eq 0 ]; then
        rm -f "$deb"
    fi
fi

# ---- 2. the Y4M files ------------------------------------------------------
# DIR/.NAME.frames records what the Y4M holds: "all" or a frame count.
satisfies() {  # $1 = recorded, $2 = requested
    [ "$1" = all ] && return 0
    [ "$2" = all ] && return 1
    [ "$1" -ge "$2" ]
}

for c in "${CLIPS[@]}"; do
    IFS='|' read -r name path rate src <<<"$c"
    out="$dir/$name.y4m"
    stamp="$dir/.$name.frames"
    if [ $force -eq 0 ] && [ -s "$out" ] && [ -s "$stamp" ] && satisfies "$(cat "$stamp")" "$frames"; then
        echo "fetch_data: $out exists ($(cat "$stamp") frames), skipped"
        continue
    fi
    vf="setpts=N/($rate)/TB,scale=iw/2:ih/2"
    if [ "$name" = box ] && [ "$box_skip" -gt 0 ]; then
        vf="select=gte(n\\,$box_skip),$vf"
    fi
    limit=()
    [ "$frames" = all ] || limit=(-frames:v "$frames")
    t0=$(date +%s.%N)
    tmp="$out.tmp.$$"
    rm -f "$tmp"
    # -fps_mode passthrough: one output picture per decoded picture, no
    # duplication or dropping by timestamps; -r sets the rate in the header.
    if ! ffmpeg -nostdin -hide_banner -loglevel error -y -i "$cache/$src" -an \
            -vf "$vf" -fps_mode passthrough -r "$rate" "${limit[@]}" \
            -pix_fmt yuv420p -f yuv4mpegpipe "$tmp" 2> "$tmp.log"; then
        cat "$tmp.log" >&2
        rm -f "$tmp" "$tmp.log"
        echo "fetch_data: converting $src failed" >&2
        exit 1
    fi
    # The known broken slice in box.mp4 prints decoder errors: keep them quiet,
    # show anything else.
    grep -v -e 'non-intra slice in an IDR NAL unit' -e 'decode_slice_header error' "$tmp.log" >&2 || true
    rm -f "$tmp.log"
    mv "$tmp" "$out"
    echo "$frames" > "$stamp"
    # Frame count from the size: header line, then per frame "FRAME\n" + data.
    hdr=$(head -n 1 "$out")
    w=$(sed -n 's/.* W\([0-9]*\).*/\1/p' <<<"$hdr")
    h=$(sed -n 's/.* H\([0-9]*\).*/\1/p' <<<"$hdr")
    fsz=$(( w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2) + 6 ))
    n=$(( ($(stat -c %s "$out") - ${#hdr} - 1) / fsz ))
    t1=$(date +%s.%N)
    printf 'fetch_data: wrote %s: %sx%s, %s frames, %s bytes, %.1f s (%s)\n' \
        "$out" "$w" "$h" "$n" "$(stat -c %s "$out")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$hdr"
done

end=$(date +%s.%N)
printf 'fetch_data: done in %.1f s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
