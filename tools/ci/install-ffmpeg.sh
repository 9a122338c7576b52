#!/usr/bin/env bash
# Install the system ffmpeg (Debian package `ffmpeg`) that cuelab's video decoding
# (`cuelab_data::video`) and `cuelab render-clip --format mp4` call, and that the video tests use.
# Idempotent: does nothing when `ffmpeg` and `ffprobe` are already on PATH.
# Usage: bash tools/ci/install-ffmpeg.sh   (as root, or with sudo available)
set -euo pipefail

if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
    echo "ffmpeg already installed: $(ffmpeg -version 2>/dev/null | head -n 1)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-ffmpeg.sh: need root (or sudo) to apt-get install ffmpeg" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends ffmpeg
ffmpeg -version | head -n 1
