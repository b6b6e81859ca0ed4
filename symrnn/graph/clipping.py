"""Gradient clipping on a variable: the identity forward, its gradient clipped backward.

PyTensor's own ``grad_clip`` op leaves its bounds out of its identity
(``GradClip.__props__ == ()``), so two clips with different bounds compare
equal: a merge inside one graph, or PyTensor 3.1+'s reuse of equal inner
graphs across graphs (scan's), then runs one clip's bounds in the other's
place (measured on PyTensor 3.3.8: a recurrence clipped at 0.5 built after
one clipped at 0.1 backpropagated with 0.1). :class:`ClipGradient` holds its
bounds in its props; like ``GradClip`` it is a ``ViewOp``, so PyTensor's
rewrites remove it from compiled graphs once the gradient is built.

>>> import pytensor, pytensor.tensor as pt
>>> x = pt.dvector("x")
>>> loose, tight = clip_gradient(x, 1.0), clip_gradient(x, 0.1)
>>> loose.owner.op == tight.owner.op
False
>>> g = pytensor.grad((5 * loose).sum() + (5 * tight).sum(), x)
>>> g.eval({x: [0.0, 0.0]}).tolist()             # 1.0 + 0.1 per element
[1.1, 1.1]
"""
import pytensor.tensor as pt
from pytensor.compile.ops import ViewOp


class ClipGradient(ViewOp):
    """``x`` forward; ``clip(g, lower, upper)`` as its gradient."""

    __props__ = ("lower", "upper")

    def __init__(self, lower, upper):
        self.lower, self.upper = float(lower), float(upper)
        if not self.upper >= self.lower:
            raise ValueError(f"clip bounds must satisfy lower <= upper, got {lower}, {upper}")

    def pullback(self, inputs, outputs, output_grads):
        return [pt.clip(g, self.lower, self.upper) for g in output_grads]



def clip_gradient(x, bound):
    """``x`` unchanged forward; its gradient clipped to ``[-bound, bound]`` backward
    (e.g. on ``h_tm1`` inside a recurrent step, to tame exploding messages)."""
    return ClipGradient(-bound, bound)(x)
