"""Benchmarks: throughput, learning parity, reward fidelity, grid cost.

Each module with a `main` runs as a script (`python bench/throughput.py ...`);
the package is installed with the project (editable), so the scripts, their
worker processes and the tests import each other as `bench.<module>`.
"""
