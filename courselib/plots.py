"""Plotting helpers: training curves that update live in Jupyter and render once elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt


class LivePlot:
    """Curves that redraw in place every ``every`` calls to :meth:`update` (in Jupyter).

    >>> live = LivePlot(["loss", "accuracy"])
    >>> for step in range(100):
    ...     live.update(step, loss=..., accuracy=...)
    >>> live.show()
    """

    def __init__(self, metrics: Sequence[str], every: int = 20, title: str = "") -> None:
        self.metrics = list(metrics)
        self.every = every
        self.title = title
        self.history: dict[str, list[tuple[int, float]]] = {m: [] for m in self.metrics}
        self._calls = 0
        self._handle = None

    def update(self, step: int, **values: float) -> None:
        for name, value in values.items():
            self.history.setdefault(name, []).append((step, float(value)))
        self._calls += 1
        if self._calls % self.every == 0 and _in_notebook():
            self._draw(live=True)

    def figure(self) -> plt.Figure:
        names = [m for m in self.history if self.history[m]]
        fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4 * max(1, len(names)), 3), squeeze=False)
        for ax, name in zip(axes[0], names):
            steps, values = zip(*self.history[name])
            ax.plot(steps, values)
            ax.set_title(name)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        if self.title:
            fig.suptitle(self.title)
        fig.tight_layout()
        return fig

    def _draw(self, live: bool) -> None:
        from IPython.display import display

        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)

    def show(self) -> plt.Figure | None:
        """Draw the final curves: in Jupyter in place of the live ones (returns None, so the cell
        does not display them twice); elsewhere as a new figure, which is returned."""
        if _in_notebook() and self._handle is not None:
            self._draw(live=False)
            return None
        fig = self.figure()
        plt.show()
        return fig


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
