r"""The character vocabulary: sorted distinct characters, ``"\0"`` padding at id 0.

>>> vocab = Vocab.from_text("hello world")
>>> vocab.decode(vocab.encode("hello"))
'hello'
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, VocabError

#: Padding symbol inserted at id 0 of every vocabulary built from text.
PAD_CHAR = "\0"
MAX_LISTED_CHARS = 10


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
        ids = as_id_array(ids, "ids", ndim=1)
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

def as_id_array(ids, name: str, ndim=None) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0 and arr.dtype == np.float64:  # np.asarray([]) is float; an empty list is fine
        arr = arr.astype(np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ShapeError(f"{name} must hold integer ids, got dtype {arr.dtype}; use Vocab.encode")
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr

