"""Write the small sample corpora that symrnn owns, and a JSON of their known statistics.

Nothing here is copied from anywhere: every byte is generated, so the files
can be rebuilt and checked byte for byte (``tests/data/test_data_samples.py``
does). Run from the repository root::

    python data/make_samples.py            # writes data/samples/
    python data/make_samples.py --out DIR

Files written:

``markov_text.txt``
    Text from a character Markov chain with a fixed vocabulary and fixed
    transition weights (:data:`TRANSITIONS`), seeded. Useful because its
    bigram statistics are known in advance: a model's loss on it can be
    compared with the chain's entropy rate.
``latin1_bytes.txt``
    Every byte from 1 to 255 once, in order. Read as latin-1 it is 255
    characters, one per byte, so ``Vocab`` ids equal byte values.
``samples.json``
    For each file: length in bytes and characters, encoding, vocabulary,
    sha256; for the chain also the seed, the start state, the transition
    weights and the chain's entropy rate in nats per character.

Only the standard library is used, and only ``random.Random.random()``,
whose output for a given seed Python keeps the same across versions.
"""
import argparse
import hashlib
import json
import math
import random
from pathlib import Path

SEED = 2017
N_CHARS = 6_000
START = "\n"
TOTAL_WEIGHT = 64  # every row of TRANSITIONS sums to this, so sampling is exact integer work

#: Next-character weights out of 64 for each character of the chain.
TRANSITIONS = {
    "\n": {"t": 24, "a": 16, "s": 16, "o": 8},
    " ": {"t": 20, "a": 12, "s": 12, "o": 8, "r": 6, "n": 6},
    ".": {" ": 40, "\n": 24},
    "a": {"n": 24, "t": 16, "r": 8, "s": 8, " ": 8},
    "e": {" ": 24, "r": 16, "n": 8, "s": 8, ".": 8},
    "n": {"e": 16, "o": 16, "t": 12, "a": 12, " ": 8},
    "o": {"n": 20, "r": 20, "t": 12, " ": 12},
    "r": {"e": 32, "a": 16, "o": 8, " ": 8},
    "s": {"t": 24, "e": 16, " ": 16, ".": 8},
    "t": {"e": 20, "o": 16, "a": 12, "r": 8, "s": 8},
}


def markov_text(seed=SEED, n_chars=N_CHARS, start=START) -> str:
    """Sample ``n_chars`` characters from the chain, starting after ``start``."""
    rng = random.Random(seed)
    rows = {c: sorted(nexts.items()) for c, nexts in TRANSITIONS.items()}  # sorted: fixed order
    out, current = [], start
    for _ in range(n_chars):
        pick = int(rng.random() * TOTAL_WEIGHT)  # an integer in [0, 64)
        for char, weight in rows[current]:
            if pick < weight:
                break
            pick -= weight
        out.append(char)
        current = char
    return "".join(out)


def entropy_rate(text: str) -> float:
    """Expected -log p(next | current) under the chain, weighted by the text's own
    character frequencies (nats/char): the loss a perfect model would reach."""
    counts = {c: text[:-1].count(c) for c in TRANSITIONS}
    n = sum(counts.values())
    row_entropy = {
        c: -sum(w / TOTAL_WEIGHT * math.log(w / TOTAL_WEIGHT) for w in nexts.values())
        for c, nexts in TRANSITIONS.items()
    }
    return sum(counts[c] / n * row_entropy[c] for c in TRANSITIONS)


def latin1_bytes() -> bytes:
    return bytes(range(1, 256))


def describe(raw: bytes, encoding: str) -> dict:
    text = raw.decode(encoding)
    return {
        "encoding": encoding,
        "bytes": len(raw),
        "chars": len(text),
        "vocab": sorted(set(text)),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def write_samples(out_dir) -> dict:
    """Write the samples into ``out_dir`` and return the statistics written to samples.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = markov_text()
    files = {
        "markov_text.txt": (text.encode("ascii"), "ascii"),
        "latin1_bytes.txt": (latin1_bytes(), "latin-1"),
    }
    stats = {}
    for name, (raw, encoding) in files.items():
        (out / name).write_bytes(raw)
        stats[name] = describe(raw, encoding)
    stats["markov_text.txt"].update(
        seed=SEED, start=START, total_weight=TOTAL_WEIGHT,
        transitions={c: dict(sorted(n.items())) for c, n in sorted(TRANSITIONS.items())},
        entropy_rate_nats=round(entropy_rate(text), 6),
    )
    # newline at the end and sorted keys: the JSON itself is byte-stable
    (out / "samples.json").write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n", encoding="ascii")
    return stats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "samples"),
                        help="directory to write into (default: data/samples next to this script)")
    args = parser.parse_args(argv)
    stats = write_samples(args.out)
    for name, info in stats.items():
        print(f"{args.out}/{name}: {info['bytes']:,} bytes, {len(info['vocab'])} symbols, "
              f"sha256 {info['sha256'][:12]}...")


if __name__ == "__main__":
    main()
