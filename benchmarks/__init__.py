"""Benchmark suites of the source checkout: `python -m benchmarks SUITE --size cpu|gpu` (or `aire bench`)."""
