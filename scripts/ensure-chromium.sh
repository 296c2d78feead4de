#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/browser): Debian's chromium and chromium-driver.
# Playwright drives this system browser; `playwright install` is never used (it downloads its own).
#
# Installs the packages when /usr/bin/chromium is missing, with sudo only when not root.
# Where they cannot be installed (no apt-get, no root and no sudo, apt failing) it says so and
# exits 0, and the browser tests are skipped with that reason; REQUIRE_CHROMIUM=1 makes both fail.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium chromium-driver)

if [[ -x "$CHROMIUM" ]]; then
    exit 0
fi

cannot_install() {
    echo "ensure-chromium: $1; the browser tests will be skipped." >&2
    echo "ensure-chromium: install the Debian packages '${PACKAGES[*]}' to run them." >&2
    if [[ "${REQUIRE_CHROMIUM:-0}" == "1" ]]; then
        exit 1
    fi
    exit 0
}

if ! command -v apt-get >/dev/null 2>&1; then
    cannot_install "no $CHROMIUM and no apt-get on this machine"
fi

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    cannot_install "installing Chromium needs root, and sudo is not available"
fi

echo "ensure-chromium: installing ${PACKAGES[*]} with apt-get…"
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update \
    || ! "${as_root[@]}" apt-get install -y "${PACKAGES[@]}"; then
    cannot_install "apt-get could not install ${PACKAGES[*]}"
fi

if [[ ! -x "$CHROMIUM" ]]; then
    cannot_install "the packages installed, but $CHROMIUM is still missing"
fi
"$CHROMIUM" --version 2>/dev/null || true
