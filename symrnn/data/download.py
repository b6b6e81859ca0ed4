"""Downloading a public file once into the cache, checked against its published sha256.

:func:`fetch_checked` is what :func:`symrnn.data.corpus.fetch_nietzsche` and
:func:`symrnn.data.reviews.fetch_reviews` share: a cached file with the right
digest is returned without touching the network; otherwise the file streams
into a temporary file in the cache directory, is checked, and only then is
renamed into place (atomic on one filesystem), so an interrupted or corrupt
download never sits under the final name.

>>> import tempfile, pathlib, hashlib
>>> source = pathlib.Path(tempfile.mkdtemp()) / "words.txt"
>>> _ = source.write_bytes(b"some words")
>>> digest = hashlib.sha256(b"some words").hexdigest()
>>> cached = fetch_checked(source.as_uri(), tempfile.mkdtemp(), "words.txt", digest, hint="a path")
>>> cached.read_bytes()
b'some words'
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import CorpusError, CorpusNotFound


def default_cache_dir() -> Path:
    """Return the cache directory: ``$SYMRNN_CACHE``, else ``$XDG_CACHE_HOME/symrnn``,
    else ``~/.cache/symrnn``."""
    if os.environ.get("SYMRNN_CACHE"):
        return Path(os.environ["SYMRNN_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "symrnn"
    return Path.home() / ".cache" / "symrnn"


def fetch_checked(url: str, cache_dir, filename: str, sha256: str, timeout: float = 30,
                  hint: str = "") -> Path:
    """``<cache_dir>/<filename>``, downloaded from ``url`` if it is not there with digest
    ``sha256``. ``hint`` ends the error messages: how to pass a local copy instead.

    Raises :class:`CorpusNotFound` when the download fails (offline, unreachable, timed
    out) and :class:`CorpusError` when the digest differs (the download is deleted) or
    the cache directory cannot be made.
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / filename
    expected = sha256.lower()
    if target.is_file() and sha256_of_file(target) == expected:
        return target
    _make_cache_dir(cache)
    tmp_path, got = _download_to_temp(url, cache, timeout, filename, hint)
    try:
        if got != expected:
            raise CorpusError(f"downloaded {url} but its sha256 is {got}, expected {expected}; "
                              f"the file was discarded. Pass a local copy instead, e.g. {hint}")
        os.replace(tmp_path, target)  # atomic on one filesystem: readers see old or new, never half
    finally:
        tmp_path.unlink(missing_ok=True)
    return target


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _make_cache_dir(cache: Path) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create the cache directory {cache} ({exc.strerror or exc}); "
                          "pass cache_dir= or set SYMRNN_CACHE to a writable directory") from exc


def _download_to_temp(url: str, cache: Path, timeout: float, filename: str,
                      hint: str) -> tuple[Path, str]:
    """Stream ``url`` into a temp file in ``cache``; return (path, sha256 hex)."""
    fd, name = tempfile.mkstemp(dir=cache, prefix=f".{filename}-", suffix=".part")
    tmp_path, digest = Path(name), hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError) as exc:   # TimeoutError is an OSError
        tmp_path.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise CorpusNotFound(f"could not download {url} ({reason}); the machine seems offline "
                             f"or the server is unreachable. Pass a local copy instead, e.g. "
                             f"{hint}") from exc
    return tmp_path, digest.hexdigest()
