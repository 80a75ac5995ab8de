#!/bin/sh
# run.sh SCRIPT SAMIZDAT_BINARY WORK_DIR: runs a web test (tests/web/SCRIPT)
# with Node.js, or skips it (exit 77) when Node.js, the npm package
# (scripts/deps.sh installs both for `make test`) or, for the browser test,
# chromium is not there.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
script=$1
shift
if ! command -v node >/dev/null 2>&1; then
    echo "skipped: no node (make test installs it: scripts/deps.sh)"
    exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
    echo "skipped: tests/web/node_modules missing (make test installs it: scripts/deps.sh)"
    exit 77
fi
if [ "$script" = browser.mjs ] && [ ! -x "${SAMIZDAT_CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "skipped: no chromium (make test installs it: scripts/deps.sh)"
    exit 77
fi
exec node "$here/$script" "$@"
