#!/usr/bin/env bash
# Install headless Chromium (Debian package `chromium`) for the report's browser test
# (crates/cuelab-report/tests/report.rs). Idempotent: does nothing when /usr/bin/chromium exists.
# Usage: bash tools/ci/install-chromium.sh   (as root, or with sudo available)
exec bash "$(dirname "$0")/install-system-packages.sh" chromium
