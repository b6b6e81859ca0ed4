"""A thin Keras-like layer API over the symrnn graph core.

Every layer turns symbolic inputs into symbolic outputs with the core's
params, cells, loops, losses and update rules; models compile through
:mod:`symrnn.graph.training`. See :mod:`symrnn.layers.base` for the lifecycle.

``__all__`` lists what a user builds and trains models with; internals
(``KTensor``, ``Updates``, ``InputLayer``, ``layer_classes``...) stay
importable from their modules (and, for old code, from here).
"""
from .backup import BackupAndRestore, StopAtStep
from .base import KTensor as KTensor  # internals: importable, not in __all__
from .base import Layer
from .base import Updates as Updates
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .core import (
    Activation,
    Add,
    Dense,
    Embedding,
    Flatten,
    Masking,
    OneHot,
    TimeDistributed,
)
from .inputs import Input
from .inputs import InputLayer as InputLayer
from .merging import Average, Concatenate, Maximum, Multiply, merge
from .models import Model, Sequential, load_model
from .monitors import HeldOutEvaluation, StopOnInterrupt
from .noise import BatchNormalization, Dropout
from .recurrent import GRU, LSTM, SimpleRNN
from .recurrent import Recurrent as Recurrent
from .saving import layer_classes as layer_classes
from .wrappers import Bidirectional

__all__ = [
    # layers
    "Activation", "Add", "Average", "BatchNormalization", "Bidirectional", "Concatenate", "Dense",
    "Dropout", "Embedding", "Flatten", "GRU", "LSTM", "Layer", "Masking", "Maximum", "Multiply",
    "OneHot",
    "SimpleRNN", "TimeDistributed", "merge",
    # models
    "Input", "Model", "Sequential", "load_model",
    # training
    "BackupAndRestore", "Callback", "CSVLogger", "EarlyStopping", "HeldOutEvaluation", "History",
    "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau", "StopAtStep",
    "StopOnInterrupt", "TerminateOnNaN",
]
