#!/usr/bin/env bash
# Coverage-guided fuzzing of the session loader with libFuzzer, for a bounded time.
# Usage: Scripts/fuzz.sh [SECONDS]   (default 60)
# Seeds the corpus with real session files written by the test suite's fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scratch=.build-fuzz
swift build --scratch-path "$scratch" --target SessionFuzzer -Xswiftc -sanitize=fuzzer >&2
obj_dir="$scratch/debug"
# Link the fuzzer: our objects, the package's objects it depends on, and the Swift runtime.
objs=$(find "$obj_dir"/{Kernels,CKernels,RWKV,Conversation,SessionFuzzer}.build -name '*.o' 2>/dev/null)
swiftc -sanitize=fuzzer -emit-executable -o "$scratch/session-fuzzer" $objs >&2
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# Seed: a small session made with the headless mode.
if [[ -x .build/debug/rwkv-chat ]]; then
    printf 'hello\n/regen\nmore\n' | XDG_CACHE_HOME="$corpus/cache" .build/debug/rwkv-chat run \
        --model Tests/RWKVTests/Fixtures/tiny7.fp32.pth --max-tokens 6 --session "$corpus/seed.rwkvsession" >/dev/null
fi
RWKV_FUZZ_MODEL=Tests/RWKVTests/Fixtures/tiny7.fp32.pth "$scratch/session-fuzzer" \
    -max_total_time="$seconds" -max_len=200000 -print_final_stats=1 "$corpus"
