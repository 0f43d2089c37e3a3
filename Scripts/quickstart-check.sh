#!/usr/bin/env bash
# Checks the README's Quick start the way a newcomer meets it, in a real terminal (tmux):
#  1. `Scripts/run.sh` with no network and no model: it builds, fails to pull (offline),
#     shows the first-run screen, and Enter reaches a chat with the built-in demo model;
#     a message gets a reply that ends at the turn separator (not cut by the length limit).
#  2. `Scripts/run.sh --model FIXTURE` reaches a chat with that model.
# Per-user directories go to a scratch folder; the network is cut with an unusable proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
sock="quickstart-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
env_vars="XDG_DATA_HOME=$scratch/data XDG_CONFIG_HOME=$scratch/config XDG_CACHE_HOME=$scratch/cache"
env_vars+=" https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 TERM=xterm-256color"

screen() { tmux -L "$sock" capture-pane -p -t qs; }
wait_for() {  # wait_for SECONDS TEXT
    local deadline=$((SECONDS + $1))
    while ((SECONDS < deadline)); do
        if screen | grep -qF -- "$2"; then return 0; fi
        sleep 0.2
    done
    echo "quickstart: timed out waiting for '$2'; screen:" >&2
    screen >&2
    return 1
}

# The release build happens outside the timed waits (it is the slow part on a fresh clone).
swift build -c release >/dev/null

tmux -L "$sock" new-session -d -s qs -x 100 -y 30 "env $env_vars Scripts/run.sh; echo EXIT=\$?; sleep 120"
wait_for 600 "Welcome to rwkv-chat"
tmux -L "$sock" send-keys -t qs Enter
wait_for 60 "Type a message"
wait_for 5 "demo model"
tmux -L "$sock" send-keys -t qs "Hello" Enter
wait_for 60 "Ctrl-R regenerate"
if screen | grep -qF "(cut at the length limit)"; then
    echo "quickstart: the demo model's reply did not end at the turn separator:" >&2
    screen >&2
    exit 1
fi
screen | sed -n '1,12p'
tmux -L "$sock" send-keys -t qs C-q
wait_for 30 "EXIT=0"
tmux -L "$sock" kill-session -t qs

tmux -L "$sock" new-session -d -s qs -x 100 -y 30 \
    "env $env_vars Scripts/run.sh --model Tests/RWKVTests/Fixtures/tiny7.fp32.pth; echo EXIT=\$?; sleep 120"
wait_for 120 "Type a message"
tmux -L "$sock" send-keys -t qs C-q
wait_for 30 "EXIT=0"
echo "quickstart: ok (offline set-up reaches the demo chat; --model reaches a chat)"
