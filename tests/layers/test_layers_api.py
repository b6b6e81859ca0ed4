"""The layer package's surface: what ``__all__`` offers, where internals live, no import tricks."""
from pathlib import Path

from imports import imports_of

import symrnn.layers
from symrnn.layers import base, callbacks, inputs, models, saving

LAYERS_DIR = Path(symrnn.layers.__file__).parent


def test_all_lists_what_users_build_and_train_models_with():
    assert sorted(symrnn.layers.__all__) == sorted([
        "Activation", "Add", "Average", "BatchNormalization", "Bidirectional", "Concatenate",
        "Dense", "Dropout", "Embedding", "Flatten", "GRU", "LSTM", "Layer", "Masking", "Maximum",
        "Multiply",
        "OneHot", "SimpleRNN", "TimeDistributed", "merge",
        "Input", "Model", "Sequential", "load_model",
        "BackupAndRestore", "Callback", "CSVLogger", "EarlyStopping", "HeldOutEvaluation", "History",
        "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau", "StopAtStep",
        "StopOnInterrupt", "TerminateOnNaN"])
    for name in symrnn.layers.__all__:   # each a class or function of the layer package
        value = getattr(symrnn.layers, name)
        assert callable(value) and value.__module__.startswith("symrnn.layers."), name


def test_internals_stay_importable_from_their_modules():
    assert all(isinstance(c, type) for c in (base.KTensor, base.Updates, inputs.InputLayer))
    assert callable(saving.layer_classes) and "Dense" in saving.layer_classes()
    assert symrnn.layers.load_model is models.load_model
    assert symrnn.layers.History is callbacks.History


def test_no_function_level_imports_in_the_layer_package():
    for path in sorted(LAYERS_DIR.glob("*.py")):
        inner = [(module, line) for module, line, top in imports_of(path) if not top]
        assert inner == [], f"{path.name} imports inside functions: {inner}"


def test_saving_and_summary_do_not_import_the_model_classes():
    for name in ("saving.py", "summary.py"):
        imported = {module for module, _, _ in imports_of(LAYERS_DIR / name)}
        assert "symrnn.layers.models" not in imported, name


def test_saved_models_may_name_every_layer_class_symrnn_defines():
    expected = {"Dense", "Activation", "Flatten", "Embedding", "TimeDistributed", "Add",
                "Dropout", "BatchNormalization", "SimpleRNN", "GRU", "LSTM", "Bidirectional",
                "InputLayer", "Concatenate", "Multiply", "Average", "Maximum"}
    classes = saving.layer_classes()
    assert expected <= set(classes)
    assert all(issubclass(cls, base.Layer) for cls in classes.values())
    assert not any(name.startswith("_") for name in classes)

    class MyLayer(base.Layer):   # a user's layer is not registered (load_model custom_objects)
        pass
    assert "MyLayer" not in saving.layer_classes()
