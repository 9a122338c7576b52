#!/usr/bin/env bash
# Every Debian package CI needs, in one `apt-get update` and one `apt-get install` (only the
# missing ones; nothing to do when all are present):
#   chromium         the report's headless browser test (crates/cuelab-report)
#   ffmpeg           video decoding and its tests (cuelab_data::video, `render-clip --format mp4`)
#   slurm-wlm munge  the one-node Slurm of tools/ci/slurm-test.sh
# .ci/run starts this in the background while cargo compiles. Naming tools installs only those
# (install-chromium.sh and install-ffmpeg.sh are that, for users who want one tool).
# Usage: bash tools/ci/install-system-packages.sh [chromium] [ffmpeg] [slurm]
#        (as root, or with sudo available; no names: all three)
set -euo pipefail

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(chromium ffmpeg slurm)
missing=()
for tool in "${wanted[@]}"; do
    case "$tool" in
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
    ffmpeg) { command -v ffmpeg && command -v ffprobe; } >/dev/null 2>&1 || missing+=(ffmpeg) ;;
    slurm)
        if [ -z "${CUELAB_SKIP_SLURM:-}" ]; then
            command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
            command -v munged >/dev/null 2>&1 || missing+=(munge)
        fi
        ;;
    *)
        echo "install-system-packages.sh: unknown tool '$tool' (chromium, ffmpeg or slurm)" >&2
        exit 2
        ;;
    esac
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-system-packages.sh: already installed: ${wanted[*]}"
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
