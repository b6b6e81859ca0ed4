"""The application on top of the library: the ``symrnn`` command, the trainer and run directories.

- :mod:`.cli`: ``symrnn train / generate / evaluate / graph / bench``;
- :mod:`.models`: the character models as the trainer sees them;
- :mod:`.trainer`, :mod:`.checkpoint`: the training loop and checkpoints;
- :mod:`.metrics`: nats, bits per character and perplexity;
- :mod:`.lessonkit`: the flags and corpus loading every lesson script shares.

Nothing below this package imports it.
"""
