"""The chart style every figure shares: palette, inks, type sizes, panel sizes, and the helpers that apply them.

Why a module of its own: the product's charts (sim.present.charts) and the calibration's charts (backcasts,
the calibration report) are read side by side, so a colour, a band and a type size must mean the same on all
of them; the calibration imports this module rather than the product's charts.

Figures are `matplotlib.figure.Figure` objects built without pyplot: nothing here chooses a backend (no
`matplotlib.use`, which would switch a notebook's own), so drawing is safe headless, in workers and under pytest.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

TOL_MUTED = (
    "#332288",  # indigo
    "#88CCEE",  # cyan
    "#44AA99",  # teal
    "#117733",  # green
    "#999933",  # olive
    "#DDCC77",  # sand
    "#CC6677",  # rose
    "#882255",  # wine
    "#AA4499",  # purple
    "#DDDDDD",  # pale grey
)
# Pools need more colours than needs: a shipped scenario has 12. Two from Tol's "vibrant" palette,
# unlike any muted colour, so that no two pools of a 12-pool scenario share one.
POOL_COLOURS = (*TOL_MUTED, "#EE7733", "#0077BB")
INK = "#222222"
FOOTNOTE_GREY = "#555555"
GUIDE_GREY = "#888888"
GRID_GREY = "#E5E5E5"
FOOTNOTE_POINTS = 7.5
TICK_POINTS = 8
LEGEND_POINTS = 8
LABEL_POINTS = 9  # axis labels and panel titles
TITLE_POINTS = 12
PNG_DPI = 110
BAND_ALPHA = 0.25
OVERLAY_BAND_ALPHA = 0.15
PANEL_SIZE = (3.8, 2.5)  # inches, one panel of a small-multiples figure
MIN_FIGURE_WIDTH = 6.5  # inches: a one- or two-panel figure still leaves room for its title and footnote
THOUSANDS = FuncFormatter(lambda x, _: f"{x:,.1f}".rstrip("0").rstrip(".") if abs(x) < 100 else f"{x:,.0f}")


def panels(
    count: int, title: str, xlabel: str, ylabel: str, panel_size: tuple[float, float] = PANEL_SIZE
) -> tuple[Figure, list[Axes]]:
    """A figure with `count` panels (at least one) in up to three columns; spare grid cells are removed.

    The y label goes on the left column; the x label, shared by every panel, once under the middle of the
    lowest panels (repeated, long labels ran into each other). Neither is a figure-level label, which the
    constrained layout would place over the footnote.
    """
    count = max(count, 1)
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(max(panel_size[0] * columns, MIN_FIGURE_WIDTH), panel_size[1] * rows + 1.2))
    grid = np.ravel(figure.subplots(rows, columns, squeeze=False))
    for spare in grid[count:]:
        spare.remove()
    lowest = [index for index in range(count) if index + columns >= count]
    for index, ax in enumerate(grid[:count]):
        style_axes(ax)
        if index % columns == 0:
            ax.set_ylabel(ylabel, fontsize=LABEL_POINTS)
    grid[lowest[len(lowest) // 2]].set_xlabel(xlabel, fontsize=LABEL_POINTS)
    figure.suptitle(title, fontsize=TITLE_POINTS)
    return figure, list(grid[:count])


def style_axes(ax: Axes, grid_axis: str = "y") -> None:
    """No top or right spine, a light grid behind the data, small ticks in the ink colour."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis=grid_axis, color=GRID_GREY, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=TICK_POINTS, colors=INK)


def fan(
    ax: Axes,
    x: np.ndarray,
    mean: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    colour: str,
    label: str | None = None,
    alpha: float = BAND_ALPHA,
) -> None:
    """Mean line over its P10-P90 band; the y axis starts at zero so sizes are read honestly."""
    ax.fill_between(x, low, high, color=colour, alpha=alpha, linewidth=0)
    ax.plot(x, mean, color=colour, linewidth=2, label=label)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def date_axis(ax: Axes) -> None:
    """Three to seven date ticks, labelled concisely (a year once, then months)."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def finish(figure: Figure, *parts: str) -> Figure:
    """Add the grey footnote at the bottom and reserve room for it in the constrained layout."""
    width = max(int(figure.get_figwidth() * 17), 60)
    text = "\n".join(textwrap.fill(part, width) for part in parts if part)
    lines = text.count("\n") + 1
    height = lines * FOOTNOTE_POINTS * 1.3 / 72 + 0.12
    fraction = min(height / figure.get_figheight(), 0.4)
    figure.text(
        0.01, 0.012, text, fontsize=FOOTNOTE_POINTS, color=FOOTNOTE_GREY, ha="left", va="bottom", gid="footnote"
    )
    figure.set_layout_engine("constrained", rect=(0, fraction, 1, 1 - fraction))
    return figure
