"""``symrnn bench``: what users train, timed against PyTorch and numpy in one process.

Run ``python -m symrnn.bench --help`` (or ``symrnn bench --help``). One module per job:

- :mod:`.runner`: the program (``main``): rows per model, then the probes;
- :mod:`.options`: its options, checked before anything is built;
- :mod:`.spec`: the benchmarked models, built as ``symrnn train`` builds them, and
  their weights by role;
- :mod:`.impls`: the timed implementations (symrnn's ``fitting.train_fn`` and
  ``Generator``, the numpy and PyTorch twins);
- :mod:`.numpy_twins`, :mod:`.numpy_cells`: the models by hand in numpy;
- :mod:`.torch_twins`: the models in PyTorch eager, with symrnn's weights;
- :mod:`.timing`: alternating rounds; :mod:`.flops`: the FLOP bound;
- :mod:`.stepprofile`: where a training step's time goes (PyTensor's per-op profile,
  grouped), beside the rates and for ``--profile``;
- :mod:`.probes`: cold/warm compile probes; :mod:`.mainjob`: ``symrnn train`` timed;
- :mod:`.masked`: ``--masked``, masked variable-length training against PyTorch's
  packed sequences;
- :mod:`.report`: printing.

Nothing here imports :mod:`symrnn.app` (the CLI imports the bench).
"""
