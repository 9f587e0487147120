#!/usr/bin/env bash
# Make Debian's chromium available for the real-browser tests.
# Installs it with apt when missing and running as root; otherwise explains what to install.
# Under CI=true a missing browser is an error (browser tests would otherwise silently skip).
set -u
CHROMIUM=${SNNVIZ_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian chromium for the browser tests (apt-get install chromium)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null
    if [ -x "$CHROMIUM" ]; then exit 0; fi
fi
msg="chromium not found at $CHROMIUM: install Debian's package (sudo apt-get install chromium) or set SNNVIZ_CHROMIUM"
if [ "${CI:-}" = "true" ]; then echo "ERROR: $msg" >&2; exit 1; fi
echo "NOTE: $msg; browser tests will be skipped."
exit 0
