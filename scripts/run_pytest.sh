#!/usr/bin/env bash
# Run the whole suite: with no arguments, each part of tests/ (the top-level test files, then
# every sub-folder) in its own pytest process, so that one long process does not accumulate
# hundreds of compiled XLA programs (a 900-test single process once crashed in an XLA compile),
# and a crash in one part still leaves the others' results. With arguments, one pytest run of
# exactly those. Each part lists its ten slowest tests (where the suite's time goes). pytest exits 5 when it collected no tests: a failure here, since a suite or part
# that runs nothing must never pass silently.
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

status=0
failed=()
parts=(tests/test_*.py)
for dir in tests/*/; do
    [ -d "$dir" ] && [ "$(basename "$dir")" != "__pycache__" ] && parts+=("${dir%/}")
done
for part in "${parts[@]}"; do
    echo "=== pytest $part ==="
    if ! run "$part" --durations=10; then
        status=1
        failed+=("$part")
    fi
done
if [ "$status" != "0" ]; then echo "FAILED parts: ${failed[*]}" >&2; fi
exit "$status"
