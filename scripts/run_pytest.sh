#!/usr/bin/env bash
# Run the whole suite: with no arguments, each part of tests/ (the top-level test files, then
# every sub-folder) in its own pytest process, so that one long process does not accumulate
# hundreds of compiled XLA programs (a 900-test single process once crashed in an XLA compile),
# and a crash in one part still leaves the others' results. Parts other than the real-browser
# tests run on SNNVIZ_TEST_WORKERS pytest-xdist workers (default: the CPU count, at most 4),
# whole test files per worker (module fixtures stay shared; notebooks one by one); the browser
# tests measure frame rates and run alone. Each part lists its ten slowest tests.
# With arguments, one pytest run of exactly those. pytest exits 5 when it collected no tests: a
# failure here, since a suite or part that runs nothing must never pass silently.
set -u

run() {
    .venv/bin/python -m pytest "$@"
    local rc=$?
    if [ "$rc" = "5" ]; then echo "ERROR: pytest collected no tests in: $*" >&2; return 1; fi
    return "$rc"
}

if [ "$#" -gt 0 ]; then
    run "$@"
    exit $?
fi

cpus=$(nproc 2>/dev/null || echo 1)
workers=${SNNVIZ_TEST_WORKERS:-$((cpus < 4 ? cpus : 4))}
status=0
failed=()
parts=(tests/test_*.py)
for dir in tests/*/; do
    [ -d "$dir" ] && [ "$(basename "$dir")" != "__pycache__" ] && parts+=("${dir%/}")
done
for part in "${parts[@]}"; do
    echo "=== pytest $part ==="
    args=("$part" --durations=10)
    if [ "$part" = "tests/notebooks" ] && [ "$workers" -gt 1 ]; then
        args+=(-n "$workers" --dist load)  # one file of independent notebook tests
    elif [ "$part" != "tests/browser" ] && [ "$workers" -gt 1 ]; then
        args+=(-n "$workers" --dist loadfile)
    fi
    if ! run "${args[@]}"; then
        status=1
        failed+=("$part")
    fi
done
if [ "$status" != "0" ]; then echo "FAILED parts: ${failed[*]}" >&2; fi
exit "$status"
