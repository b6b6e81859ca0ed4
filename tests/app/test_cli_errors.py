"""Every bad input gets `symrnn: error: <what to do>`, exit code 2, and changes nothing.

One tiny run is trained per module; each case then runs against a directory
tree holding that run, good and bad corpora and bad checkpoints, and the test
asserts the message and that no file appeared, vanished or changed.
"""
import hashlib
import json
import os
import zipfile

import numpy as np
import pytest

from symrnn.app.cli import main

TEXT = "the cat sat on the mat. " * 40
TINY = ["--hidden", "6", "--seq-len", "5", "--batch-size", "4", "--no-progress", "--sample", "5"]


def snapshot(root):
    """Every path under root with the sha256 of file contents (None for directories)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            found[os.path.join(dirpath, d)] = None
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                found[os.path.join(dirpath, f)] = hashlib.sha256(fh.read()).hexdigest()
    return found


def write_checkpoint_variant(src, dst, edit_meta=None, edit_arrays=None, pickled=False):
    """Copy a checkpoint, changing its metadata or arrays (written with plain numpy)."""
    with np.load(src) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays.pop("__meta__").tobytes())
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    if pickled:
        arrays["evil"] = np.array([{"code": "print('pwned')"}], dtype=object)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    (root / "c.txt").write_text(TEXT)
    (root / "other.txt").write_text(TEXT.upper())
    (root / "shuffled.txt").write_text(TEXT[::-1])  # same characters, different text
    (root / "empty.txt").write_text("")
    (root / "short.txt").write_text("abc")
    (root / "binary.bin").write_bytes(b"\x7fELF\x00\x00\x01\x02" * 50)
    (root / "latin.txt").write_bytes("caf\xe9 ".encode("latin-1") * 100)
    (root / "adir").mkdir()
    (root / "afile").write_text("not a directory")
    assert main(["train", "--corpus", str(root / "c.txt"), "--run-dir", str(root / "run"),
                 "--max-steps", "2", *TINY]) == 0
    [ckpt] = sorted((root / "run").glob("ckpt-*.npz"))[-1:]
    raw = ckpt.read_bytes()
    for name, data in {"truncated": raw[:len(raw) // 2],
                       "corrupted": raw[:200] + bytes(b ^ 0x5A for b in raw[200:400]) + raw[400:]}.items():
        (root / name).mkdir()
        (root / name / ckpt.name).write_bytes(data)
    write_checkpoint_variant(ckpt, str(root / "othermodel" / ckpt.name),
                             edit_meta=lambda m: m["model"].update(model="transformer"))
    write_checkpoint_variant(ckpt, str(root / "othershape" / ckpt.name),
                             edit_meta=lambda m: m["model"].update(hidden=7))
    write_checkpoint_variant(ckpt, str(root / "pickled" / ckpt.name), pickled=True)
    write_checkpoint_variant(ckpt, str(root / "notckpt" / ckpt.name),
                             edit_meta=lambda m: m.update(format="something-else"))
    return root


def train(*argv):
    return ["train", "--corpus", "{root}/c.txt", "--run-dir", "{root}/new", *TINY, *argv]


CASES = [
    # corpus
    (["train", "--corpus", "{root}/missing.txt", "--run-dir", "{root}/new"], "does not exist"),
    (["train", "--corpus", "{root}/adir", "--run-dir", "{root}/new"], "is a directory"),
    (["train", "--corpus", "{root}/empty.txt", "--run-dir", "{root}/new"], "is empty"),
    (["train", "--corpus", "{root}/short.txt", "--run-dir", "{root}/new", *TINY], "too short for one window"),
    (["train", "--corpus", "{root}/binary.bin", "--run-dir", "{root}/new"], "looks binary"),
    (["train", "--corpus", "{root}/latin.txt", "--run-dir", "{root}/new"], "--encoding latin-1"),
    (train("--encoding", "klingon"), "unknown encoding"),
    # sizes and names
    (train("--seq-len", "0"), "--seq-len must be positive"),
    (train("--seq-len", "-3"), "--seq-len must be positive"),
    (train("--batch-size", "0"), "--batch-size must be positive"),
    (train("--batch-size", "1000"), "fewer than one batch of 1000"),
    (train("--hidden", "0"), "--hidden must be positive"),
    (train("--epochs", "0"), "--epochs must be positive"),
    (train("--lr", "-1"), "--lr must be positive"),
    (train("--clipnorm", "0"), "--clipnorm must be positive"),
    (train("--lr", "inf"), "--lr must be a finite number, got inf"),
    (train("--clipnorm", "nan"), "--clipnorm must be a finite number, got nan"),
    (train("--checkpoint-every", "0"), "--checkpoint-every must be positive"),
    (train("--backend", "cuda"), "invalid choice: 'cuda'"),
    (train("--optimizer", "adamw"), "invalid choice: 'adamw'"),
    (train("--loss", "hinge"), "invalid choice: 'hinge'"),
    (train("--model", "gpt"), "invalid choice: 'gpt'"),
    (train("--dtype", "float16"), "invalid choice: 'float16'"),
    (train("--layers", "2"), "--layers is for --model simplernn, gru and lstm"),
    (train("--model", "simplernn", "--layers", "0"), "--layers must be positive"),
    # sampling
    (train("--temperature", "0"), "--temperature must be positive"),
    (train("--temperature", "-1"), "--temperature must be positive"),
    (train("--prime", "the \u2603\u00e9"), "'\u00e9', '\u2603'"),
    (["generate", "{root}/run", "--temperature", "0"], "--temperature must be positive"),
    (["generate", "{root}/run", "--prime", "xyz"], "'x', 'y', 'z'"),
    # run directories
    (train("--run-dir", "{root}/afile"), "is a file"),
    (train("--run-dir", "{root}/afile/sub"), "not writable"),
    (train("--run-dir", "/proc/symrnn-test-run"), "not writable"),
    (train("--run-dir", "{root}/run"), "already holds a run"),
    # checkpoints
    (["train", "--resume", "{root}/truncated"], "truncated or not a symrnn checkpoint"),
    (["train", "--resume", "{root}/corrupted"], "truncated or not a symrnn checkpoint"),
    (["generate", "{root}/othermodel"], "unknown model 'transformer'"),
    (["train", "--resume", "{root}/othershape"], "W_x has shape (12, 6), this model needs (12, 7)"),
    (["generate", "{root}/pickled"], "contains pickled objects"),
    (["evaluate", "{root}/notckpt"], "not a training checkpoint"),
    (["generate", "{root}/adir"], "holds no checkpoint"),
    (["evaluate", "{root}/missing"], "does not exist"),
    # resume mismatches
    (["train", "--resume", "{root}/run", "--corpus", "{root}/other.txt"], "vocabulary differs"),
    (["train", "--resume", "{root}/run", "--corpus", "{root}/shuffled.txt"], "sha256 differs"),
    (["train", "--resume", "{root}/run", "--hidden", "9"], "--hidden 9 differs from the run's 6"),
    (["evaluate", "{root}/run", "--corpus", "{root}/other.txt"], "not in the training corpus"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[f"{i:02d}-{c[1][:30]}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused_and_changes_nothing(world, capsys, argv, message):
    before = snapshot(world)
    argv = [a.format(root=world) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symrnn: error: ") and message in err, err
    assert snapshot(world) == before


def test_the_refused_checkpoints_really_are_bad(world):
    """Guard the table: the corrupted copies differ from the good one as intended."""
    good = sorted((world / "run").glob("ckpt-*.npz"))[-1]
    assert (world / "truncated" / good.name).stat().st_size < good.stat().st_size
    with pytest.raises(zipfile.BadZipFile):
        with zipfile.ZipFile(world / "corrupted" / good.name) as z:
            for name in z.namelist():
                z.read(name)
