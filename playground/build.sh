#!/usr/bin/env bash
# Build the playground's editor bundle from the npm registry, reproducibly: exact versions from
# package-lock.json (`npm ci`), a pinned esbuild, no timestamps in the output. The bundle is committed in
# src/keystroke/transports/http/static/, so installing keystroke needs no Node.js.
#   playground/build.sh           rebuild the bundle
#   playground/build.sh --check   rebuild into a temporary file and fail if it differs from the committed one
set -euo pipefail
cd "$(dirname "$0")"
BUNDLE=../src/keystroke/transports/http/static/playground.js
npm ci --no-audit --no-fund --loglevel=error
if [ "${1:-}" = "--check" ]; then
  OUT=$(mktemp --suffix=.js)
  npx --no-install esbuild src/playground.js --bundle --minify --format=iife --target=es2020 \
    --legal-comments=eof --outfile="$OUT" --log-level=warning
  if cmp -s "$OUT" "$BUNDLE"; then
    echo "playground bundle: reproducible ($(sha256sum "$BUNDLE" | cut -c1-16))"
  else
    echo "playground bundle differs from a fresh build: run playground/build.sh and commit the result" >&2
    exit 1
  fi
  rm -f "$OUT"
else
  npm run build --silent
fi
