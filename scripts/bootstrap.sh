#!/usr/bin/env bash
# Install everything that the build, the tests and the tools of ARG need, on
# Debian 12 (bookworm), as root. Idempotent: when every package is already
# installed it changes nothing and returns in well under a second.
#
#   bash scripts/bootstrap.sh            # install what is missing
#   bash scripts/bootstrap.sh --check    # only report what is missing (exit 1 if any)
set -euo pipefail

PACKAGES=(
    # build (pkg-config also checks the installed arg.pc: tests/install/)
    build-essential gcc meson ninja-build pkg-config
    # libFuzzer targets (tests/fuzz/, -Dfuzzing=true): clang and its runtimes
    clang libclang-rt-dev
    # libarg and its optional backends
    libxxhash-dev libopenblas-dev libopus-dev libebml-dev libmatroska-dev
    # transcoding (argenc/argdec through FFmpeg's libraries; scripts/arg-chunks.sh)
    libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev parallel
    libvulkan-dev glslang-tools mesa-vulkan-drivers vulkan-tools vulkan-validationlayers
    # PyTorch twin, parity vectors
    python3-torch python3-numpy
    # data, container clients, measuring
    ffmpeg mkvtoolnix mediainfo zstd time xxhash ca-certificates
    # rate-distortion harness (conformance/rd): anchors, plots, PCHIP cross-check
    x265 svt-av1 aom-tools gnuplot-nox python3-scipy
    # activity pass: the ActEV JSON schema check of arganalyze's output
    python3-jsonschema
)

check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    "") ;;
    *) echo "bootstrap.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

# A package counts as present only when dpkg says "install ok installed".
missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "bootstrap: all ${#PACKAGES[@]} packages present"
    exit 0
fi

echo "bootstrap: missing: ${missing[*]}"
if [ $check_only -eq 1 ]; then
    exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: must run as root to install packages (try: sudo bash $0)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Refresh the package lists once: when they are absent or older than a day,
# or when the first install attempt fails (lists that name deleted versions).
lists_fresh() {
    local newest
    newest=$(find /var/lib/apt/lists -maxdepth 1 -type f -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)
    [ -n "$newest" ]
}
updated=0
if ! lists_fresh; then
    echo "bootstrap: apt-get update"
    apt-get update -q
    updated=1
fi

echo "bootstrap: apt-get install ${missing[*]}"
if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
    if [ $updated -eq 1 ]; then
        exit 1
    fi
    echo "bootstrap: install failed; refreshing the package lists and retrying"
    apt-get update -q
    apt-get install "${apt_opts[@]}" "${missing[@]}"
fi
echo "bootstrap: done"
