"""Loading a corpus as one ``str``: the embedded default, the lesson's Nietzsche text, any file.

Plain numpy and the standard library; nothing here imports pytensor.

:func:`load_corpus` returns by default the CPython help topics that ship with
the interpreter (no download needed); ``"nietzsche"`` downloads the lesson's
text once, checks its sha256 and caches it; any other value is a path.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from ..errors import ConfigError, CorpusError, CorpusNotFound
from .download import default_cache_dir, fetch_checked  # noqa: F401 (default_cache_dir: its old home)

NIETZSCHE_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
NIETZSCHE_SHA256 = "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"
NIETZSCHE_FILENAME = "nietzsche.txt"
LOCAL_COPY_HINT = "--corpus path/to/nietzsche.txt --encoding latin-1"

BINARY_SNIFF_BYTES = 8192
# Encodings in which a NUL byte is ordinary: latin-1 reads bytes one to one
# (the lesson's Python 2 view), and UTF-16/32 put NULs in plain ASCII text.
NUL_TOLERANT_CODECS = ("iso8859-1", "utf-16", "utf-32")


# --------------------------------------------------------------------------
# Loading


def load_corpus(source=None, encoding: str = "utf-8", cache_dir=None) -> str:
    r"""Return a corpus as one string.

    Parameters
    ----------
    source : None, str or os.PathLike
        ``None`` or ``"default"``: the embedded corpus (CPython's help topics
        from ``pydoc_data``; about 465k characters, exact size depends on the
        Python version). ``"nietzsche"``: the lesson's text, downloaded once
        into the cache by :func:`fetch_nietzsche` (a ``Path`` named
        ``nietzsche`` is always read as a file). Anything else: a file path.
    encoding : str
        Codec for files. Use ``"latin-1"`` to read one character per byte,
        like the lesson's Python 2 code (86 symbols for Nietzsche).
        Ignored for the embedded corpus.
    cache_dir : str or os.PathLike, optional
        Where ``"nietzsche"`` is cached; see :func:`fetch_nietzsche`.

    Returns
    -------
    str
        The whole corpus; never empty.

    Raises
    ------
    CorpusNotFound
        The file does not exist, or the download failed.
    CorpusError
        A directory, unreadable, undecodable, binary-looking or empty file.
    ConfigError
        Unknown encoding or a source that is not a name or path.

    Examples
    --------
    >>> text = load_corpus()
    >>> len(text) > 100_000
    True
    """
    if source is None or (isinstance(source, str) and source == "default"):
        return _embedded_corpus()
    codec = _codec_name(encoding)
    if isinstance(source, str) and source == "nietzsche":
        return _read_text_file(fetch_nietzsche(cache_dir), encoding, codec)
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(
            f"corpus source must be None, 'default', 'nietzsche' or a file path, "
            f"got {type(source).__name__} {source!r}"
        )
    return _read_text_file(Path(source).expanduser(), encoding, codec)


def _embedded_corpus() -> str:
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some trimmed Python builds drop pydoc_data
        raise CorpusNotFound(
            "the embedded corpus needs the standard-library module pydoc_data, "
            "which this Python does not have; pass a text file path instead"
        ) from exc
    # dict order is an implementation detail of the generator: sort for determinism
    return "".join(topics[key] for key in sorted(topics))


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError) as exc:
        raise ConfigError(
            f"unknown encoding {encoding!r}; use a Python codec name such as "
            f"'utf-8' or 'latin-1'"
        ) from exc


def _read_text_file(path: Path, encoding: str, codec: str) -> str:
    raw = _read_bytes(path)
    if not raw:
        raise CorpusError(f"corpus file {path} is empty; pick a file with text in it")
    if not codec.startswith(NUL_TOLERANT_CODECS):
        _refuse_binary(path, raw[:BINARY_SNIFF_BYTES])
    text = _decode(path, raw, encoding)
    if not text:  # e.g. a file holding only a byte-order mark
        raise CorpusError(f"corpus file {path} decodes to empty text; pick a file with text in it")
    return text


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise CorpusError(f"corpus path {path} is a directory; pass the path of a text file in it")
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CorpusNotFound(
            f"corpus file {path} does not exist; check the path, or leave the corpus "
            f"unset to use the default corpus embedded in Python"
        ) from exc
    except OSError as exc:
        raise CorpusError(
            f"corpus file {path} cannot be read ({exc.strerror or exc}); "
            f"check its permissions or copy it somewhere readable"
        ) from exc


def _refuse_binary(path: Path, head: bytes) -> None:
    offset = head.find(b"\0")
    if offset >= 0:
        raise CorpusError(
            f"corpus file {path} looks binary (NUL byte at offset {offset}); "
            f"pass a text file, or encoding='latin-1' to read it byte by byte anyway"
        )


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"corpus file {path} is not valid {encoding} (byte {exc.object[exc.start]:#04x} "
            f"at offset {exc.start}); pass encoding='latin-1' (--encoding latin-1), which "
            f"reads any file one character per byte"
        ) from exc


# --------------------------------------------------------------------------
# Downloading


def fetch_nietzsche(
    cache_dir=None,
    url: str = NIETZSCHE_URL,
    sha256: str = NIETZSCHE_SHA256,
    timeout: float = 30,
) -> Path:
    """Return the path of the cached Nietzsche corpus, downloading it if needed.

    A cached file with the right checksum is returned without touching the
    network. Otherwise the file is downloaded to a temporary file in the cache
    directory, checked, and moved into place atomically, so an interrupted
    download never leaves a half file under the final name.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Defaults to :func:`default_cache_dir`.
    url : str
        Any URL urllib can open (``https://``, ``file://``...).
    sha256 : str
        Expected hex digest of the file.
    timeout : float
        Seconds to wait for the server.

    Returns
    -------
    pathlib.Path
        ``<cache_dir>/nietzsche.txt``; read it with ``encoding="latin-1"``
        to match the lesson.

    Raises
    ------
    CorpusNotFound
        The download failed (offline, unreachable, timed out).
    CorpusError
        The downloaded file has the wrong checksum (it is deleted), or the
        cache directory cannot be created.
    """
    return fetch_checked(url, cache_dir, NIETZSCHE_FILENAME, sha256, timeout, LOCAL_COPY_HINT)
