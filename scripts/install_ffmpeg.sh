#!/usr/bin/env bash
# Install Debian's ffmpeg, which writes the MP4 (H.264, libx264) of a generated clip
# (pixeldrift/pipeline/video_files.py drives it through imageio-ffmpeg).
# Idempotent and non-interactive; needs root (CI runs as root) or sudo.
set -euo pipefail

if [ -x /usr/bin/ffmpeg ]; then
    echo "ffmpeg already installed: $(/usr/bin/ffmpeg -hide_banner -version | head -n 1)"
    exit 0
fi
bash "$(dirname "$0")/apt_install.sh" ffmpeg
echo "installed: $(/usr/bin/ffmpeg -hide_banner -version | head -n 1)"
