#!/usr/bin/env bash
# Every Debian package CI needs, in one `apt-get update` and one `apt-get install` (only the
# missing ones; nothing to do when all are present):
#   chromium         the report's headless browser test (crates/cuelab-report)
#   ffmpeg           video decoding and its tests (cuelab_data::video, `render-clip --format mp4`)
#   slurm-wlm munge  the one-node Slurm of tools/ci/slurm-test.sh
# .ci/run starts this in the background while cargo compiles. The single-package scripts
# (install-chromium.sh, install-ffmpeg.sh) stay for users who want one tool only.
# Usage: bash tools/ci/install-system-packages.sh   (as root, or with sudo available)
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || missing+=(ffmpeg)
if [ -z "${CUELAB_SKIP_SLURM:-}" ]; then
    command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
    command -v munged >/dev/null 2>&1 || missing+=(munge)
fi
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-system-packages.sh: chromium, ffmpeg, slurm-wlm and munge already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-system-packages.sh: need root (or sudo) to apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-system-packages.sh: installed ${missing[*]} in $(($(date +%s) - t0)) s"
