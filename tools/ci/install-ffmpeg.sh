#!/usr/bin/env bash
# Install the system ffmpeg (Debian package `ffmpeg`) that cuelab's video decoding
# (`cuelab_data::video`) and `cuelab render-clip --format mp4` call, and that the video tests use.
# Idempotent: does nothing when `ffmpeg` and `ffprobe` are already on PATH.
# Usage: bash tools/ci/install-ffmpeg.sh   (as root, or with sudo available)
exec bash "$(dirname "$0")/install-system-packages.sh" ffmpeg
