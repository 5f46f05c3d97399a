"""The benchmark: backfill time against the rate-limit floor, strategy by strategy.

See ``bench.cli`` (``python -m bench run``) and the README's Benchmark section.
"""
