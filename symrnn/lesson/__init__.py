"""The lesson's own models, written the way the lesson wrote them.

- :mod:`.rnn`: the raw PyTensor character RNN (declared variables, shared
  weights, a step run by ``scan``, symbolic gradients, an updates dictionary);
- :mod:`.gru`: the raw GRU in its two forms (separate and combined weights);
- :mod:`.numpy_rnn`: the same RNN in numpy with backpropagation through time
  by hand, the independent oracle the tests compare the graphs against.
"""
