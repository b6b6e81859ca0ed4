"""The application on top of the library: the ``symrnn`` command and its run routine.

- :mod:`.cli`: ``symrnn train / generate / evaluate / graph / bench``: parses, calls,
  prints, maps errors to exit codes;
- :mod:`.run`: what ``symrnn train`` does (plan, lock, train through ``fit`` with
  callbacks, report) and the loading of saved runs;
- :mod:`.models`: the character models as the application sees them;
- :mod:`.rundir`: one writer per run directory;
- :mod:`.graphs`: ``symrnn graph``'s pictures of the lesson model;
- :mod:`.metrics`: nats, bits per character and perplexity;
- :mod:`.lessonkit`: the flags and corpus loading every lesson script shares.

Nothing below this package imports it.
"""
