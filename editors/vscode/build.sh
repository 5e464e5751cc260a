#!/usr/bin/env bash
# Build the extension reproducibly from the npm registry: exact versions from package-lock.json (`npm ci`),
# type-checked, bundled with esbuild into dist/extension.js, packaged with @vscode/vsce into keystroke.vsix.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent typecheck
npm run --silent build
npm run --silent package
echo "built $(pwd)/keystroke.vsix"
