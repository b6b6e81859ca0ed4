"""A thin Keras-like layer API over the symrnn graph core.

Every layer turns symbolic inputs into symbolic outputs with the core's
params, cells, loops, losses and update rules; models compile through
:mod:`symrnn.graph.training`. See :mod:`symrnn.layers.base` for the lifecycle.
"""
from .base import KTensor, Layer, Updates
from .core import (
    Activation,
    Add,
    Dense,
    Embedding,
    Flatten,
    OneHot,
    TimeDistributed,
    merge,
)
from .fitting import History
from .models import Input, InputLayer, Model, Sequential
from .noise import BatchNormalization, Dropout
from .recurrent import GRU, LSTM, Recurrent, SimpleRNN
from .saving import layer_classes, load_model
from .wrappers import Bidirectional

__all__ = [
    "Activation", "Add", "BatchNormalization", "Bidirectional", "Dense", "Dropout", "Embedding",
    "Flatten", "GRU", "History", "OneHot", "Input", "InputLayer", "KTensor", "LSTM", "Layer", "Model",
    "Recurrent", "Sequential", "SimpleRNN", "TimeDistributed", "Updates", "layer_classes",
    "load_model", "merge",
]
