"""``symrnn graph``: the lesson model's graph as text, and as images where graphviz is.

>>> import tempfile
>>> out = tempfile.mkdtemp()
>>> [(form, path.endswith(".txt"), lines > 10) for form, path, lines, image
...  in write_lesson_graphs(out, vocab_size=5, hidden=3, seq_len=2)]
[('scan', True, True), ('unrolled', True, True)]
"""
import importlib.util
import io
import os
import shutil

import pytensor.printing

from ..io import save_text
from ..lesson.rnn import LessonRNN


def can_draw():
    """Whether pydot and graphviz's ``dot`` are installed (images need both)."""
    return shutil.which("dot") is not None and importlib.util.find_spec("pydot") is not None


def write_lesson_graphs(out, vocab_size, hidden, seq_len):
    """``[(form, text path, lines, image path or None)]`` for the scan and unrolled forms."""
    os.makedirs(out, exist_ok=True)
    images, written = can_draw(), []
    for form, unroll in (("scan", False), ("unrolled", True)):
        rnn = LessonRNN(vocab_size, hidden, seq_len=seq_len, unroll=unroll, backend="py")
        buffer = io.StringIO()
        pytensor.printing.debugprint(rnn.error, file=buffer)
        path = os.path.join(out, f"lesson_{form}.txt")
        save_text(path, buffer.getvalue())
        image = None
        if images:
            image = os.path.join(out, f"lesson_{form}.png")
            pytensor.printing.pydotprint(rnn.error, outfile=image, format="png", print_output_file=False)
        written.append((form, path, buffer.getvalue().count("\n"), image))
    return written
