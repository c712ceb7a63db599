"""Tests of the ``benchmarks`` package's own parts (parsers, result tables, upstream set-up)."""
