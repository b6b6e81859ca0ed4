r"""Text in, integer windows out: the data step of the Lesson 6 models.

Everything here is plain numpy; this module never imports pytensor, so the
data can be prepared, inspected and tested without compiling a graph.

The flow follows the lesson:

1. :func:`load_corpus` returns the corpus as one ``str``: by default the
   CPython help topics that ship with the interpreter (no download needed),
   or the lesson's Nietzsche text, or any file you name.
2. :class:`Vocab` maps each distinct character to an id, with the padding
   symbol ``"\0"`` at id 0 as the lesson did.
3. :func:`windows` cuts the ids into non-overlapping input windows and the
   same windows shifted by one character (the targets).
4. :func:`one_hot` turns ids into one-hot vectors for the models that take
   them directly.

>>> vocab = Vocab.from_text("hello world")
>>> ids = vocab.encode("hello world")
>>> x, y = windows(ids, seq_len=3)
>>> vocab.decode(x[0]), vocab.decode(y[0])
('hel', 'ell')
"""

from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from .errors import ConfigError, CorpusError, CorpusNotFound, ShapeError, VocabError

__all__ = [
    "NIETZSCHE_URL",
    "NIETZSCHE_SHA256",
    "LESSON_DROP_LAST",
    "PAD_CHAR",
    "load_corpus",
    "fetch_nietzsche",
    "Vocab",
    "windows",
    "one_hot",
    "split_tail",
]

NIETZSCHE_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
NIETZSCHE_SHA256 = "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"
NIETZSCHE_FILENAME = "nietzsche.txt"
LOCAL_COPY_HINT = "--corpus ../shared/data/nietzsche.txt --encoding latin-1"

#: The lesson's notebook dropped the last two windows; keep it to match its counts.
LESSON_DROP_LAST = 2
#: Padding symbol inserted at id 0 of every vocabulary built from text.
PAD_CHAR = "\0"

BINARY_SNIFF_BYTES = 8192
MAX_LISTED_CHARS = 10
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


def default_cache_dir() -> Path:
    """Return the cache directory: ``$SYMRNN_CACHE``, else ``$XDG_CACHE_HOME/symrnn``,
    else ``~/.cache/symrnn``."""
    if os.environ.get("SYMRNN_CACHE"):
        return Path(os.environ["SYMRNN_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "symrnn"
    return Path.home() / ".cache" / "symrnn"


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
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / NIETZSCHE_FILENAME
    expected = sha256.lower()
    if target.is_file() and _sha256_of_file(target) == expected:
        return target
    _make_cache_dir(cache)
    tmp_path, got = _download_to_temp(url, cache, timeout)
    try:
        if got != expected:
            raise CorpusError(
                f"downloaded {url} but its sha256 is {got}, expected {expected}; the file "
                f"was discarded. Pass a local copy instead, e.g. {LOCAL_COPY_HINT}"
            )
        os.replace(tmp_path, target)  # atomic on one filesystem: readers see old or new, never half
    finally:
        tmp_path.unlink(missing_ok=True)
    return target


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _make_cache_dir(cache: Path) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(
            f"cannot create the cache directory {cache} ({exc.strerror or exc}); pass "
            f"cache_dir= or set SYMRNN_CACHE to a writable directory"
        ) from exc


def _download_to_temp(url: str, cache: Path, timeout: float) -> tuple[Path, str]:
    """Stream ``url`` into a temp file in ``cache``; return (path, sha256 hex)."""
    fd, name = tempfile.mkstemp(dir=cache, prefix=".nietzsche-", suffix=".part")
    tmp_path = Path(name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 16), b""):
                digest.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError) as exc:  # TimeoutError is an OSError
        tmp_path.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise CorpusNotFound(
            f"could not download {url} ({reason}); the machine seems offline or the "
            f"server is unreachable. Pass a local copy instead, e.g. {LOCAL_COPY_HINT}"
        ) from exc
    return tmp_path, digest.hexdigest()


# --------------------------------------------------------------------------
# Vocabulary


class Vocab:
    r"""A character vocabulary: ids are positions in :attr:`chars`.

    Build it from text with :meth:`from_text` (sorted distinct characters,
    ``"\0"`` padding at id 0), or from a saved list with :meth:`from_list`.

    Attributes
    ----------
    chars : list of str
        The characters; ``chars[i]`` is the character of id ``i``.
    char_indices : dict
        Character -> id.
    indices_char : list of str
        Id -> character (the same list as ``chars``; a list indexes like the
        lesson's dict).

    Examples
    --------
    >>> vocab = Vocab.from_text("abca")
    >>> vocab.chars
    ['\x00', 'a', 'b', 'c']
    >>> vocab.encode("cab")
    array([3, 1, 2], dtype=int32)
    >>> vocab.decode([3, 1, 2])
    'cab'
    >>> len(vocab)
    4
    """

    def __init__(self, chars):
        self.chars = list(chars)
        self.char_indices = {c: i for i, c in enumerate(self.chars)}
        self.indices_char = self.chars
        # Lookup table for vectorised encoding: code points sorted, and the id of each.
        codepoints = np.array([ord(c) for c in self.chars], dtype=np.int64)
        self._order = np.argsort(codepoints, kind="stable").astype(np.int32)
        self._sorted_codepoints = codepoints[self._order]

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        r"""Sorted distinct characters of ``text``, with ``"\0"`` at id 0.

        A ``"\0"`` already in the text is kept once, at id 0 (it is the
        smallest character, so sorting puts it there anyway).

        >>> Vocab.from_text("ba\0").chars
        ['\x00', 'a', 'b']
        """
        _require_str(text, "Vocab.from_text")
        return cls(sorted(set(text) | {PAD_CHAR}))

    @classmethod
    def from_list(cls, chars) -> "Vocab":
        """Rebuild a vocabulary saved with :meth:`to_list` (e.g. from JSON).

        >>> Vocab.from_list(Vocab.from_text("xy").to_list()).size
        3
        """
        chars = list(chars)
        bad = [c for c in chars if not (isinstance(c, str) and len(c) == 1)]
        if bad:
            raise VocabError(
                f"a vocabulary list holds single characters; got {_listing(bad)}. "
                f"Is this the 'chars' list of a checkpoint?"
            )
        if len(set(chars)) != len(chars):
            dupes = sorted({c for c in chars if chars.count(c) > 1})
            raise VocabError(
                f"vocabulary list repeats {_listing(dupes)}; each character must appear "
                f"once. The checkpoint may be corrupt"
            )
        if not chars:
            raise VocabError("vocabulary list is empty; the checkpoint may be corrupt")
        return cls(chars)

    def to_list(self) -> list:
        """The characters in id order (a JSON-friendly list of str)."""
        return list(self.chars)

    @property
    def size(self) -> int:
        """Number of ids, padding included (the lesson's ``vocab_size``)."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other):
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.chars == other.chars

    __hash__ = None  # mutable list inside: equal vocabs need not hash alike

    def __repr__(self) -> str:
        preview = "".join(self.chars[1:21])
        return f"Vocab(size={self.size}, chars={preview!r}{'...' if self.size > 21 else ''})"

    def encode(self, text: str) -> np.ndarray:
        """Ids of the characters of ``text`` as an int32 array.

        Raises
        ------
        VocabError
            ``text`` has characters outside this vocabulary.
        """
        _require_str(text, "Vocab.encode")
        # utf-32 gives one code point per character; surrogatepass keeps lone surrogates
        codepoints = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        slots = np.searchsorted(self._sorted_codepoints, codepoints)
        slots = np.minimum(slots, len(self._sorted_codepoints) - 1)
        unknown = self._sorted_codepoints[slots] != codepoints
        if unknown.any():
            missing = sorted({chr(c) for c in codepoints[unknown]})
            raise VocabError(
                f"{len(missing)} character(s) are not in the training corpus' vocabulary: "
                f"{_listing(missing)}; remove or replace them, or build the vocabulary "
                f"from a corpus that has them"
            )
        return self._order[slots]

    def decode(self, ids) -> str:
        """The text of a 1-D sequence of ids.

        Raises
        ------
        ShapeError
            ``ids`` is not a 1-D integer sequence.
        VocabError
            An id is outside ``[0, size)``.
        """
        ids = _as_id_array(ids, "ids", ndim=1)
        out_of_range = (ids < 0) | (ids >= self.size)
        if out_of_range.any():
            raise VocabError(
                f"ids {_listing(sorted(set(ids[out_of_range].tolist())))} are outside this "
                f"vocabulary of size {self.size}; were they made with another vocabulary?"
            )
        return "".join([self.chars[i] for i in ids.tolist()])


def _require_str(text, where: str) -> None:
    if not isinstance(text, str):
        hint = " (decode bytes first, e.g. data.decode('latin-1'))" if isinstance(text, bytes) else ""
        raise VocabError(f"{where} expects a str, got {type(text).__name__}{hint}")


def _listing(items) -> str:
    """Repr the first few items, so a long list does not flood the message."""
    shown = ", ".join(repr(x) for x in items[:MAX_LISTED_CHARS])
    more = len(items) - MAX_LISTED_CHARS
    return shown + (f" and {more} more" if more > 0 else "")


# --------------------------------------------------------------------------
# Windows and one-hot


def _as_id_array(ids, name: str, ndim=None) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0 and arr.dtype == np.float64:  # np.asarray([]) is float; an empty list is fine
        arr = arr.astype(np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ShapeError(f"{name} must hold integer ids, got dtype {arr.dtype}; use Vocab.encode")
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def _require_count(value, name: str, minimum: int) -> int:
    # bool is an int subclass, but windows(ids, True) is surely a mistake
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def windows(ids, seq_len: int, drop_last: int = 0):
    """Non-overlapping input windows and their targets, shifted by one.

    Windows start every ``seq_len`` ids at ``range(0, len(ids) - 1 - seq_len,
    seq_len)``, the lesson's range (it leaves out a final window that would
    just fit, which keeps the lesson's counts). ``x[i]`` is
    ``ids[s:s+seq_len]`` and ``y[i]`` is ``ids[s+1:s+seq_len+1]``: each target
    is the character after the input at the same position. The last
    ``drop_last`` windows are then dropped (the lesson dropped 2, see
    :data:`LESSON_DROP_LAST`).

    Parameters
    ----------
    ids : array_like of int, shape (L,)
    seq_len : int
        Characters per window, > 0.
    drop_last : int
        Windows to drop from the end, >= 0.

    Returns
    -------
    x, y : np.ndarray of int32, shape (N, seq_len)
        ``N = ceil((L - 1 - seq_len) / seq_len) - drop_last``.

    Raises
    ------
    ConfigError
        ``seq_len`` or ``drop_last`` is not a valid int.
    CorpusError
        Fewer than ``(drop_last + 1) * seq_len + 2`` ids: not one window left.

    Examples
    --------
    >>> x, y = windows(np.arange(10), seq_len=3)
    >>> x
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int32)
    >>> y
    array([[1, 2, 3],
           [4, 5, 6]], dtype=int32)
    """
    seq_len = _require_count(seq_len, "seq_len", 1)
    drop_last = _require_count(drop_last, "drop_last", 0)
    ids = _as_id_array(ids, "ids", ndim=1)
    n_windows = count_windows(len(ids), seq_len, drop_last)
    if n_windows < 1:
        raise CorpusError(
            f"corpus of {len(ids)} characters is too short for one window of seq_len="
            f"{seq_len} (with drop_last={drop_last} it needs at least "
            f"{(drop_last + 1) * seq_len + 2}); use a longer corpus or a smaller seq_len"
        )
    # Starts are multiples of seq_len, so the windows tile a prefix: a reshape suffices.
    span = n_windows * seq_len
    x = ids[:span].reshape(n_windows, seq_len)
    y = ids[1 : span + 1].reshape(n_windows, seq_len)
    return x.astype(np.int32), y.astype(np.int32)


def count_windows(n_ids: int, seq_len: int, drop_last: int = 0) -> int:
    """How many windows :func:`windows` returns for ``n_ids`` ids (may be <= 0).

    >>> count_windows(600_901, 8, LESSON_DROP_LAST)
    75110
    """
    n_starts = len(range(0, n_ids - 1 - seq_len, seq_len))
    return n_starts - drop_last


def one_hot(ids, vocab_size: int, dtype="float32") -> np.ndarray:
    """One-hot vectors of ``ids``: shape ``ids.shape + (vocab_size,)``.

    Raises
    ------
    ConfigError
        ``vocab_size`` is not a positive int.
    ShapeError
        ``ids`` are not integers, or fall outside ``[0, vocab_size)``.

    Examples
    --------
    >>> one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    vocab_size = _require_count(vocab_size, "vocab_size", 1)
    ids = _as_id_array(ids, "ids")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ShapeError(
            f"ids range over [{ids.min()}, {ids.max()}] but vocab_size is {vocab_size}; "
            f"pass the size of the vocabulary that encoded them (vocab.size)"
        )
    return np.eye(vocab_size, dtype=dtype)[ids]


def split_tail(ids, fraction: float = 0.1):
    """Split off the last ``fraction`` of the ids as a held-out set.

    The tail, not a random sample, is held out, so no held-out window shares
    text with a training window (except at the one boundary).

    Returns
    -------
    train_ids, heldout_ids : np.ndarray
        Views of ``ids``; both non-empty, heldout has
        ``max(1, round(len(ids) * fraction))`` ids (at most ``len(ids) - 1``).

    Examples
    --------
    >>> train, heldout = split_tail(np.arange(10), 0.2)
    >>> train.tolist(), heldout.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    fraction_ok = isinstance(fraction, (float, int)) and not isinstance(fraction, bool)
    if not fraction_ok or not 0 < fraction < 1:
        raise ConfigError(f"fraction must be a number strictly between 0 and 1, got {fraction!r}")
    ids = _as_id_array(ids, "ids", ndim=1)
    if len(ids) < 2:
        raise CorpusError(
            f"cannot split {len(ids)} id(s) into a training part and a held-out part; "
            f"use a longer corpus"
        )
    n_heldout = max(1, round(len(ids) * fraction))  # round: 100 * 0.29 is 28.999...
    n_heldout = min(n_heldout, len(ids) - 1)  # keep at least one training id
    cut = len(ids) - n_heldout
    return ids[:cut], ids[cut:]


def stateful_layout(ids, batch_size: int, seq_len: int):
    """Lay a corpus out for stateful training: row i of batch k+1 continues row i of batch k.

    The ids (minus the last, which is only a target) are cut into
    ``batch_size`` contiguous streams, one per batch row; batch k holds the
    k-th ``seq_len`` window of every stream. Ids that do not fill a whole
    window of every stream are dropped from the end of each stream.

    Returns
    -------
    x, y : np.ndarray, shape (n_batches * batch_size, seq_len)
        Ordered batch by batch (rows ``k*B .. k*B + B - 1`` are batch k);
        ``y`` is ``x`` shifted by one character. Feed them with
        ``fit(x, y, batch_size=batch_size, shuffle=False)``.

    Examples
    --------
    >>> x, y = stateful_layout(np.arange(13), batch_size=2, seq_len=3)
    >>> x.tolist()      # stream 0 is 0..5, stream 1 is 6..11
    [[0, 1, 2], [6, 7, 8], [3, 4, 5], [9, 10, 11]]
    >>> y[0].tolist()
    [1, 2, 3]
    """
    ids = _as_id_array(ids, "ids", ndim=1)
    batch_size = _require_count(batch_size, "batch_size", 1)
    seq_len = _require_count(seq_len, "seq_len", 1)
    stream_len = (len(ids) - 1) // batch_size
    n_batches = stream_len // seq_len
    if n_batches == 0:
        raise CorpusError(f"{len(ids)} ids cannot fill one batch of {batch_size} rows x {seq_len} "
                          f"steps (+1 target); need at least {batch_size * seq_len + 1}: use a "
                          "longer corpus or a smaller batch_size/seq_len")
    used = n_batches * seq_len
    starts = np.arange(batch_size) * stream_len
    offsets = starts[:, None] + np.arange(used)[None, :]           # [B, used]
    def layout(a):  # [B, n_batches*T] -> [n_batches, B, T] -> [n_batches*B, T]
        return a.reshape(batch_size, n_batches, seq_len).transpose(1, 0, 2).reshape(-1, seq_len)
    return layout(ids[offsets]), layout(ids[offsets + 1])
