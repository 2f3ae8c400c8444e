"""Benchmarks, run by hand as modules from the project root: ``python -m bench.<name>``.

``bench.book`` generates the books they measure on (word lists in ``bench/data/``); see
``bench/README.md`` for each benchmark, how to run it and its recorded figures.
"""
