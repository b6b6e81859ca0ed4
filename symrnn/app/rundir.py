"""One writer per run directory: an advisory lock that dies with its holder.

``symrnn train`` holds ``RUN_DIR/.lock`` for as long as it trains
(``fcntl.flock``, exclusive, non-blocking). A second ``symrnn train`` into the
same directory, new run or ``--resume``, is refused while the first lives,
with the holder's process id in the message. The kernel drops a ``flock``
when its process ends, however it ends (a SIGKILL included), so a lock left
by a killed run never blocks: the next run simply takes it.

>>> import tempfile
>>> run = tempfile.mkdtemp()
>>> with RunDirLock(run) as lock:
...     lock.holder() == os.getpid()
True
"""
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from ..errors import ConfigError

LOCK_NAME = ".lock"


class RunDirBusy(ConfigError):
    """Another live ``symrnn train`` holds the run directory."""


class RunDirLock:
    """The exclusive lock of one run directory (a context manager; :meth:`release` ends it)."""

    def __init__(self, run_dir):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd = None

    def acquire(self):
        """Take the lock or raise :class:`RunDirBusy` naming the live holder; returns self."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self._describe_holder()
            raise RunDirBusy(f"run directory {str(self.path.parent)!r} is being trained by another "
                             f"symrnn process ({holder}); wait for it to finish, stop it, or choose "
                             "another --run-dir") from None
        os.ftruncate(fd, 0)   # whoever held it before is gone: say who holds it now
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        self._fd = fd
        return self

    def holder(self):
        """The process id written by the current holder (``None`` if unreadable)."""
        try:
            return json.loads(self.path.read_text()).get("pid")
        except (OSError, ValueError, AttributeError):
            return None

    def _describe_holder(self):
        try:
            info = json.loads(self.path.read_text())
            return f"pid {info['pid']} on {info['host']}, since {info['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "its process id is not recorded yet"

    def release(self):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
