"""xact.plotting: figures that leave matplotlib's state alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("matplotlib", reason="xact.plotting needs matplotlib")

HISTORY = {"loss": [1.1, 0.7, 0.4], "accuracy": [0.3, 0.6, 0.9], "seconds": [0.1] * 3}


def test_the_users_backend_is_left_alone():
    # today's failure: importing and using xact.plotting switched a process
    # to Agg, which broke plt.show() and %matplotlib widget
    script = textwrap.dedent(
        """
        import matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
        import xact, xact.plotting

        X, y = xact.datasets.spiral(20, 3, seed=0)
        model = xact.Sequential([xact.Dense(2, 3, seed=1), xact.Softmax()])
        xact.plotting.plot_decision_regions(model, X, y, resolution=20)
        xact.plotting.plot_activations(names=["relu", "gelu"])
        xact.plotting.plot_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]})
        print(matplotlib.get_backend(), len(plt.get_fignums()))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["svg", "3"]  # pyplot figures, for plt.show()


def test_a_figure_given_is_drawn_on_and_pyplot_is_not_touched(tmp_path):
    from matplotlib.figure import Figure

    import xact
    from xact.plotting import plot_activations, plot_decision_regions, plot_history

    pyplot = sys.modules.get("matplotlib.pyplot")
    open_figures = pyplot.get_fignums() if pyplot else None
    X, y = xact.datasets.spiral(20, 3, seed=0)
    model = xact.Sequential([xact.Dense(2, 3, seed=1), xact.Softmax()])
    figures = [Figure(), Figure(), Figure()]
    assert plot_history(HISTORY, figure=figures[0]) is figures[0]
    assert plot_activations(names=["relu"], figure=figures[1]) is figures[1]
    path = tmp_path / "regions.pdf"
    drawn = plot_decision_regions(
        model, X, y, str(path), resolution=20, figure=figures[2]
    )
    assert drawn is figures[2]
    assert path.read_bytes().startswith(b"%PDF")
    if pyplot is None:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        assert pyplot.get_fignums() == open_figures


def test_plot_history_draws_loss_and_accuracy(tmp_path):
    from matplotlib.figure import Figure

    from xact.plotting import plot_history

    history = {**HISTORY, "val_loss": [1.2, 0.8, 0.5], "val_accuracy": [0.3, 0.5, 0.8]}
    path = tmp_path / "curves.png"
    figure = plot_history(history, str(path), title="run", figure=Figure())
    loss, accuracy = figure.axes
    assert [line.get_label() for line in loss.lines] == ["loss", "val_loss"]
    assert [line.get_label() for line in accuracy.lines] == ["accuracy", "val_accuracy"]
    assert list(loss.lines[0].get_xdata()) == [1, 2, 3]  # epochs from 1
    assert list(accuracy.lines[0].get_ydata()) == HISTORY["accuracy"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    only_loss = plot_history({"loss": [1.0, 0.5]}, figure=Figure())
    assert len(only_loss.axes) == 1


def test_plot_history_names_what_it_needs():
    from xact.plotting import plot_history

    with pytest.raises(ValueError, match=r"plot_history: the history has none of"):
        plot_history({"seconds": [0.1]})


def test_without_a_figure_pyplot_gets_one_for_notebooks():
    import matplotlib.pyplot as plt

    from xact.plotting import plot_history

    figure = plot_history(HISTORY)
    try:
        assert figure.number in plt.get_fignums()  # shown inline, by plt.show()
    finally:
        plt.close(figure)


def test_dir_shows_the_public_names():
    import xact.plotting

    assert dir(xact.plotting) == [
        "plot_activations",
        "plot_decision_regions",
        "plot_history",
    ]
