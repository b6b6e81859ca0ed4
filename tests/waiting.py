"""Waiting on another process from a test: poll a condition until it holds or time runs out."""
import time


def wait_for(predicate, timeout=120):
    """True as soon as ``predicate()`` is; False after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False
