#!/bin/sh
# Score arganalyze on the hand-checked vtest annotations (ANNOTATION.md):
#   conformance/actev/vtest/score.sh [BUILD_DIR [WORK_DIR [evaluate.py options]]]
# vtest.mkv is data/vtest.y4m (384x288, 795 pictures at 10/s) coded by
# build/tools/argenc with the default model. Prints per activity
# nAUDC@0.2tfa, Pmiss@0.04tfa, the means and the proposal lower bound.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../../build}
work=${2:-${TMPDIR:-/tmp}/arg-vtest-score}
[ $# -gt 2 ] && shift 2 || set --
exec python3 "$here/../synth/evaluate.py" --arganalyze "$build/tools/arganalyze" \
    --clips "$here" --work "$work" --reference "$here/vtest_ref.json" \
    --file-index "$here/file-index.json" --activity-index "$here/activity-index.json" "$@"
