#!/usr/bin/env bash
# Formats every Swift file in place with `swift format`, then runs its strict lint.
# Usage: Scripts/format.sh          format, then lint (non-zero exit on any finding)
#        Scripts/format.sh --check  lint only
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Tests)
if [[ "${1:-}" != "--check" ]]; then
    swift format format --in-place --recursive --parallel "${paths[@]}"
fi
swift format lint --strict --recursive --parallel "${paths[@]}"
