#!/usr/bin/env bash
# Run the whole suite. pytest exits 5 when it collected no tests: that is a failure here,
# since a suite that runs nothing must never pass silently.
set -u
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = "5" ]; then echo "ERROR: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
