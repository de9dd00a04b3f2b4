"""What a backcast found, in one shape for both backtests, and the one writer of its table, chart and summary.

A backcast calibrates on what was known on an origin date, simulates forward and puts each later observed
figure (published, or counted from SSDA903 returns) against the forecast: its mean across replications, its
bands (P10-P90 first: the range one observed figure should fall in about 80% of the time) and a naive forecast.

The naive forecast carries the measure's value on the origin date, as known then, forward unchanged: what an
analyst without the model would say. A model worth its runtime should beat it (smaller absolute error).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.present import style
from sim.present.output_folders import replaced_folder

JUDGED = (10, 90)  # the band an observed figure is judged inside or outside
MAX_PANELS = 6  # measures charted, those with the most observed


@dataclass(frozen=True)
class Band:
    """A spread of the forecast across replications, between two percentiles."""

    low_percentile: int
    high_percentile: int
    low: float
    high: float

    @property
    def label(self) -> str:
        return f"P{self.low_percentile}-P{self.high_percentile}"

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high

    def limits(self) -> dict[str, float]:
        """The two edges as table columns named by percentile, {"p10": low, "p90": high}."""
        return {f"p{self.low_percentile}": self.low, f"p{self.high_percentile}": self.high}


@dataclass(frozen=True)
class Compared:
    """One observed figure against its forecast; `bands[0]` is the P10-P90 band it is judged by."""

    measure: str
    date: dt.date
    observed: float
    mean: float
    bands: tuple[Band, ...]
    naive: float
    source: str = ""

    @property
    def band(self) -> Band:
        return self.bands[0]

    @property
    def inside(self) -> bool:
        return self.band.holds(self.observed)

    @property
    def error(self) -> float:
        """Forecast mean less observed: positive when the model over-forecasts."""
        return self.mean - self.observed

    @property
    def naive_error(self) -> float:
        return self.naive - self.observed


@dataclass(frozen=True)
class Backtest:
    """Every compared figure, and the forecast drawn behind them (columns measure, date, mean, low, high).

    `measure_heading` and `date_heading` name the table columns in the command's words ("need", "month").
    """

    title: str
    origin: dt.date
    replications: int
    compared: tuple[Compared, ...]
    forecast: pd.DataFrame
    measure_heading: str = "measure"
    date_heading: str = "date"


def compare_figure(
    measure: str,
    date: dt.date,
    observed: float,
    simulated: np.ndarray,
    naive: float,
    source: str = "",
    wider: tuple[tuple[int, int], ...] = (),
) -> Compared:
    """An observed figure against `simulated` (one value per replication), with the P10-P90 band and any `wider`."""
    bands = tuple(
        Band(low, high, *(float(v) for v in np.percentile(simulated, [low, high]))) for low, high in (JUDGED, *wider)
    )
    return Compared(measure, date, float(observed), float(np.mean(simulated)), bands, float(naive), source)


def table(result: Backtest) -> pd.DataFrame:
    """One row per compared figure; band columns named by percentile (p5, p10, p90, p95)."""
    rows = []
    for row in result.compared:
        limits = {name: value for band in row.bands for name, value in band.limits().items()}
        rows.append(
            {
                result.date_heading: row.date,
                result.measure_heading: row.measure,
                "observed": row.observed,
                "simulated_mean": row.mean,
                **dict(sorted(limits.items(), key=lambda item: int(item[0][1:]))),
                "naive": row.naive,
                "error": row.error,
                "naive_error": row.naive_error,
                "inside": row.inside,
                "source": row.source,
            }
        )
    return pd.DataFrame(rows)


def summary(result: Backtest) -> pd.DataFrame:
    """Per measure: figures compared, share inside each band, and mean absolute percentage error, model and naive.

    The percentage errors leave out figures observed as zero (a percentage of nothing).
    """
    rows = []
    for measure in sorted({row.measure for row in result.compared}):
        mine = [row for row in result.compared if row.measure == measure]
        counted = [row for row in mine if row.observed > 0]
        shares = {
            f"inside_p{band.low_percentile}_p{band.high_percentile}": float(
                np.mean([row.bands[index].holds(row.observed) for row in mine])
            )
            for index, band in enumerate(mine[0].bands)
        }
        rows.append(
            {
                result.measure_heading: measure,
                f"{result.date_heading}s": len(mine),
                **shares,
                "mape_model": _mape([row.error for row in counted], [row.observed for row in counted]),
                "mape_naive": _mape([row.naive_error for row in counted], [row.observed for row in counted]),
            }
        )
    return pd.DataFrame(rows)


def _mape(errors: list[float], observed: list[float]) -> float:
    return float(np.mean(np.abs(errors) / np.array(observed)) * 100) if observed else float("nan")


def format_table(result: Backtest) -> str:
    """The compared figures for the terminal: the model's band, the naive forecast, and inside as yes or NO."""
    shown = table(result).drop(columns=["error", "naive_error", "source"])
    shown["inside"] = np.where(shown["inside"], "yes", "NO")
    return shown.to_string(index=False, float_format=lambda v: f"{v:.1f}")


def format_summary(result: Backtest) -> str:
    return summary(result).to_string(index=False, float_format=lambda v: f"{v:.2f}")


def chart(result: Backtest) -> Figure:
    """One panel per measure (the six most observed): forecast band and mean, naive forecast, observed points."""
    observed = pd.DataFrame([(row.measure, row.observed) for row in result.compared], columns=["measure", "observed"])
    measures = list(observed.groupby("measure")["observed"].max().sort_values(ascending=False).index[:MAX_PANELS])
    title = f"{result.title}: backcast from {result.origin}"
    figure, axes = style.panels(len(measures), title, "date", "children in care (count)", (4.2, 2.8))
    for ax, measure in zip(axes, measures, strict=False):
        _panel(ax, result, measure)
    axes[0].legend(frameon=False, fontsize=style.LEGEND_POINTS - 1, loc="lower left")
    note = f"{result.replications} replications; band: {result.compared[0].band.label} across replications."
    naive = "Naive: the value on the origin date, as known then, held flat."
    return style.finish(figure, note, naive)


def _panel(ax, result: Backtest, measure: str) -> None:
    """Observed points and the naive line first, so that the y axis (fixed at zero by the fan) still holds them."""
    path = result.forecast[result.forecast["measure"] == measure]
    dates = path["date"].to_numpy(dtype="datetime64[D]")
    colours = style.TOL_MUTED
    points = [row for row in result.compared if row.measure == measure]
    ax.scatter(
        [np.datetime64(row.date, "D") for row in points],
        [row.observed for row in points],
        color=colours[6],
        s=12,
        zorder=3,
        label="observed",
    )
    ax.plot(dates, np.full(len(dates), points[0].naive), color=colours[4], linestyle="--", label="naive (held flat)")
    style.fan(ax, dates, *(path[c].to_numpy(dtype=float) for c in ("mean", "low", "high")), colours[0], "model mean")
    ax.set_title(measure.replace("_", " "), fontsize=style.LABEL_POINTS)
    style.date_axis(ax)


def write_backtest(
    result: Backtest, out_dir: Path, table_name: str, chart_name: str, summary_name: str | None = None
) -> list[Path]:
    """The summary (when named), the table and the chart in `out_dir`, which is replaced whole.

    The names are the command's: the output folders recognise a backtest's folder by them (see
    sim.present.output_folders), so each command keeps its own.
    """
    out_dir = Path(out_dir)
    with replaced_folder(out_dir, "backtest") as staging:
        figure = chart(result)
        if summary_name is not None:
            summary(result).to_csv(staging / summary_name, index=False, float_format="%.3f")
        table(result).to_csv(staging / table_name, index=False, float_format="%.2f")
        figure.savefig(staging / chart_name, dpi=style.PNG_DPI, facecolor="white")
    return [out_dir / name for name in (summary_name, table_name, chart_name) if name is not None]
