#!/usr/bin/env bash
# Quick start: install what is missing, build rwkv-chat in release mode, fetch the
# default model if no model is installed yet, and start the chat.
# Any arguments are passed to rwkv-chat, e.g.  Scripts/run.sh info --model model.pth
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1; then
    echo "rwkv-chat needs the Swift toolchain (6.0 or newer): see https://www.swift.org/install/linux/" >&2
    exit 1
fi
if ! pkg-config --exists ncursesw 2>/dev/null; then
    echo "Installing ncursesw (libncursesw5-dev) and pkg-config…" >&2
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libncursesw5-dev pkg-config
fi
swift build -c release >&2
if [[ $# -eq 0 ]]; then
    models="${XDG_DATA_HOME:-$HOME/.local/share}/rwkv-chat/models"
    if ! compgen -G "$models/*.pth" >/dev/null && ! compgen -G "$models/*.gguf" >/dev/null \
        && ! compgen -G "$models/*.bin" >/dev/null && ! compgen -G "$models/*.safetensors" >/dev/null; then
        echo "No model installed yet: downloading the default one (rwkv-chat pull)…" >&2
        .build/release/rwkv-chat pull >/dev/null \
            || echo "Could not download it (offline?). The chat starts with the built-in demo model." >&2
    fi
fi
exec .build/release/rwkv-chat "$@"
