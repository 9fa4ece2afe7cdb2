"""Benchmarks: notebook budgets (``python -m benchmarks.run``) and throughput comparisons."""
