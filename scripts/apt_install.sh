#!/usr/bin/env bash
# apt-get install the named Debian packages, non-interactively, as root or through sudo.
# The project's system installs (install_browser.sh, install_ffmpeg.sh) share this.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "apt_install.sh: need root or sudo to apt-get install $*" >&2; exit 1; }
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
