"""What a Keras or PyTorch user reaches for first: ``model.summary()``,
optimizers by name, and validation data in ``fit``."""

from __future__ import annotations

import re

import array_api_compat
import numpy as np
import pytest

import xact
from conftest import Backend

EAGER_ONLY = [
    pytest.mark.skip_xp_backend(
        Backend.DASK, reason="training is eager; Dask is tested on predict"
    ),
    pytest.mark.skip_xp_backend(
        Backend.CUBED, reason="training is eager; Cubed is tested on predict"
    ),
]


def _model():
    return xact.Sequential(
        [
            xact.Dense(2, 16, seed=1),
            xact.ReLU(),
            xact.Dense(16, 3, seed=2),
            xact.Softmax(),
        ]
    )


def _split(xp, asarray):
    X, y = xact.datasets.spiral(60, 3, seed=0)
    device = array_api_compat.device(asarray([0.0]))
    labels = xp.asarray(np.array(y), device=device)
    return (asarray(X[::2]), labels[::2]), (asarray(X[1::2]), labels[1::2])


def test_summary_lists_layers_output_shapes_and_parameter_counts():
    lines = []
    model = xact.Sequential(
        [xact.Dense(2, 64), xact.ReLU(), xact.Dense(64, 8), xact.GLU(), xact.Softmax()]
    )
    model.summary(print_fn=lines.append)
    table = lines[0].splitlines()
    assert table[0].split() == ["Layer", "Output", "shape", "Parameters"]
    rows = [row.split("  ") for row in table[2:7]]
    cells = [[c.strip() for c in row if c.strip()] for row in rows]
    assert cells == [
        ["Dense(2, 64)", "(None, 64)", "192"],
        ["ReLU()", "(None, 64)", "0"],
        ["Dense(64, 8)", "(None, 8)", "520"],
        ["GLU()", "(None, 4)", "0"],
        ["Softmax()", "(None, 4)", "0"],
    ]
    assert table[-1] == "Total parameters: 712"


def test_summary_without_a_known_input_shape(capsys):
    xact.Sequential([xact.ReLU(), xact.Dense(5, 2)]).summary()
    printed = capsys.readouterr().out
    assert re.search(r"ReLU\(\)\s+\?\s+0\n", printed)
    assert "Total parameters: 12" in printed
    xact.Sequential([xact.GLU(axis=1)]).summary(input_shape=(6, 5))
    assert "(None, 3, 5)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "kind", "rate"),
    [
        ("adam", "Adam", 0.001),
        ("SGD", "SGD", 1.0),
        ("rmsprop", "RMSprop", 0.001),
        ("Adagrad", "Adagrad", 1.0),
    ],
)
def test_optimizers_by_name_have_their_defaults(name, kind, rate):
    optimizer = xact.optim.get(name)
    assert type(optimizer).__name__ == kind
    assert optimizer.learning_rate == rate


def test_an_unknown_optimizer_name_is_refused():
    with pytest.raises(ValueError, match=r"Sequential.fit: unknown optimizer 'adamw'"):
        _model().fit(
            np.zeros((3, 2)),
            np.zeros(3, dtype=int),
            loss="categorical_crossentropy",
            optimizer="adamw",
            epochs=1,
        )
    with pytest.raises(TypeError, match=r"optimizer must be an Optimizer or a name"):
        xact.optim.get(0.01)


def _apply(marks):
    def decorate(function):
        for mark in marks:
            function = mark(function)
        return function

    return decorate


@_apply(EAGER_ONLY)
def test_fit_by_optimizer_name_equals_the_optimizer_object(xp, library, asarray):
    (X, y), _ = _split(xp, asarray)
    by_name = _model().fit(
        X, y, loss="categorical_crossentropy", optimizer="adam", epochs=5
    )
    by_object = _model().fit(
        X, y, loss="categorical_crossentropy", optimizer=xact.optim.Adam(), epochs=5
    )
    assert by_name["loss"] == by_object["loss"]


@_apply(EAGER_ONLY)
def test_validation_data_adds_val_loss_and_val_accuracy(xp, library, asarray):
    (X, y), (X_val, y_val) = _split(xp, asarray)
    model = _model()
    history = model.fit(
        X,
        y,
        loss="categorical_crossentropy",
        optimizer="adam",
        epochs=3,
        validation_data=(X_val, y_val),
    )
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert all(len(values) == 3 for values in history.values())
    # the last epoch's validation figures are the trained model's on (X_val, y_val)
    final = model.evaluate(X_val, y_val, loss="categorical_crossentropy")
    assert history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-5)
    assert history["val_accuracy"][-1] == pytest.approx(final["accuracy"])
    # validation does not change training
    plain = _model().fit(
        X, y, loss="categorical_crossentropy", optimizer="adam", epochs=3
    )
    assert plain["loss"] == history["loss"]


@_apply(EAGER_ONLY)
def test_validation_data_is_checked(xp, library, asarray):
    (X, y), (X_val, y_val) = _split(xp, asarray)
    fit = _model().fit
    with pytest.raises(
        TypeError, match=r"Sequential.fit: validation_data must be a pair"
    ):
        fit(
            X,
            y,
            loss="categorical_crossentropy",
            optimizer="adam",
            epochs=1,
            validation_data=[X_val, y_val, y_val],
        )
    with pytest.raises(ValueError, match=r"validation X has 90 rows but validation y"):
        fit(
            X,
            y,
            loss="categorical_crossentropy",
            optimizer="adam",
            epochs=1,
            validation_data=(X_val, y_val[:4]),
        )
    bad = xp.asarray(np.full(90, 7), device=array_api_compat.device(X))
    with pytest.raises(ValueError, match=r"Sequential.fit"):
        fit(
            X,
            y,
            loss="categorical_crossentropy",
            optimizer="adam",
            epochs=1,
            validation_data=(X_val, bad),
        )
