"""Benchmarks comparing errands with huey's SqliteHuey; run `python benchmarks/run.py`."""
