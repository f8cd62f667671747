#!/usr/bin/env bash
# Install the npm packages used by the S3 tests (s3rver) into tests/s3/node_modules.
# Idempotent: does nothing when node_modules/s3rver is already present.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if [ -f node_modules/s3rver/package.json ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install.sh: npm not found; install Node.js (>= 18) and npm first" >&2
    exit 1
fi
npm install --no-audit --no-fund
if [ ! -f node_modules/s3rver/package.json ]; then
    echo "install.sh: npm install finished but node_modules/s3rver is missing" >&2
    exit 1
fi
