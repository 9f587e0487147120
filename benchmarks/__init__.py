"""Benchmarks: scripts whose ``main() -> dict`` measures something and returns JSON-able results.

Run them all with ``python -m benchmarks.run_all`` (``make bench``); see ``benchmarks/README.md``.
"""
