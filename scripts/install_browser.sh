#!/usr/bin/env bash
# Install Debian's chromium for the web UI tests (tests/server/test_server_browser.py).
# Playwright drives this system browser; it never downloads a browser of its own.
# Idempotent and non-interactive; needs root (CI runs as root) or sudo.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

bash "$(dirname "$0")/apt_install.sh" chromium fonts-dejavu-core
echo "installed: $(/usr/bin/chromium --version)"
