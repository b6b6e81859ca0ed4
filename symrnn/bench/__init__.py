"""``symrnn bench``: what users train, timed against PyTorch and numpy in one process.

Run ``python -m symrnn.bench --help`` (or ``symrnn bench --help``).
"""
