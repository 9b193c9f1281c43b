#!/usr/bin/env bash
# Build ARG and write conformance/REPORT.md: the RD harness (rd.py) on the
# clips of DATA.md (data/vtest, box, cup, tree: already 2x downscaled), with
# every shipped model, x265, SVT-AV1, libaom and VVenC (when on PATH).
#
#   bash conformance/rd/make_report.sh
#
# Environment: BUILD (ARG build folder, default build-report), FRAMES
# (pictures per clip, default 97 = 1 + 24*4; tree has 68), THREADS (per
# codec, default 2), OUT (working folder, default $BUILD/rd-report).
# Writes conformance/REPORT.md, conformance/rd/plots/*.png,
# conformance/rd/results.csv and conformance/rd/bdrate.csv (each replaced
# atomically). About 7 minutes on 2 cores with one model; each further
# model adds a minute or two.
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    "") ;;
    *) echo "make_report.sh: no arguments expected (see --help)" >&2; exit 2 ;;
esac

build=${BUILD:-build-report}
frames=${FRAMES:-97}
threads=${THREADS:-2}
out=${OUT:-$build/rd-report}
clips=(data/vtest.y4m data/box.y4m data/cup.y4m data/tree.y4m)

for c in "${clips[@]}"; do
    if [ ! -f "$c" ]; then
        echo "make_report.sh: $c is missing (fetch the footage: bash scripts/fetch_data.sh)" >&2
        exit 1
    fi
done
for t in x265 ffmpeg gnuplot; do
    command -v "$t" >/dev/null || { echo "make_report.sh: $t is missing (bash scripts/bootstrap.sh)" >&2; exit 1; }
done

if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" >/dev/null
else
    meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null

# rd.py exits 1 when a point failed; the report (which lists the failures)
# and the tables are still written, and this script passes the status on.
rc=0
/usr/bin/python3 conformance/rd/rd.py --build "$build" --out "$out" --frames "$frames" --threads "$threads" \
    --plots conformance/rd/plots --report conformance/REPORT.md "${clips[@]}" || rc=$?
[ -f "$out/results.csv" ] || exit 1
install -m 644 "$out/results.csv" conformance/rd/results.csv.tmp && mv conformance/rd/results.csv.tmp conformance/rd/results.csv
install -m 644 "$out/bdrate.csv" conformance/rd/bdrate.csv.tmp && mv conformance/rd/bdrate.csv.tmp conformance/rd/bdrate.csv
echo "make_report.sh: wrote conformance/REPORT.md, conformance/rd/plots/, conformance/rd/results.csv, conformance/rd/bdrate.csv"
exit $rc
