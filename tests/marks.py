"""Parametrized cases whose costly ones run only with ``--heavy`` (``.ci/run`` passes it).

The default suite keeps at least one case of each behaviour; the others (each a cold Numba
compile of another kernel configuration, or a whole model) run in CI's heavy step, on both
ends of the supported Python range.

>>> cases = heavy_beyond(["a", "b"], keep=["a"])
>>> cases[0], cases[1].values, cases[1].marks[0].name
('a', ('b',), 'heavy')
>>> heavy_beyond([(1, 2)], keep=[])[0].values
(1, 2)
"""
import pytest


def heavy_beyond(cases, keep):
    """``cases`` for ``pytest.mark.parametrize``: those in ``keep`` as they are, the others
    marked heavy (a tuple case fills several argument names)."""
    def heavy(case):
        values = case if isinstance(case, tuple) else (case,)
        return pytest.param(*values, marks=pytest.mark.heavy)

    return [case if case in keep else heavy(case) for case in cases]
