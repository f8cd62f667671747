#!/usr/bin/env bash
# Install the clients of the interoperability tests (elasticdump and
# multielasticdump, the version pinned in package.json and package-lock.json)
# into tests/elasticdump/node_modules.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
want=$(sed -n 's/.*"elasticdump": *"\([^"]*\)".*/\1/p' package.json)
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' node_modules/elasticdump/package.json 2>/dev/null || true)
if [ -n "$want" ] && [ "$have" = "$want" ] && [ -x node_modules/.bin/multielasticdump ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install.sh: npm not found; install Node.js (>= 18) and npm first" >&2
    exit 1
fi
npm ci --no-audit --no-fund
if [ ! -x node_modules/.bin/elasticdump ] || [ ! -x node_modules/.bin/multielasticdump ]; then
    echo "install.sh: npm ci finished but node_modules/.bin/elasticdump is missing" >&2
    exit 1
fi
