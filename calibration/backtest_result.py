"""What a backcast found, in one shape for both backtests, and the one writer of its table, chart and summary.

A backcast calibrates on what was known on an origin date, simulates forward and puts each later observed
figure (published, or counted from SSDA903 returns) against the forecast: its mean across replications, its
bands (P10-P90 first: the range one observed figure should fall in about 80% of the time) and a naive forecast.

The naive forecast carries the measure's value on the origin date, as known then, forward unchanged: what an
analyst without the model would say. A model worth its runtime should beat it (smaller absolute error).

The published backtest is rolling: it calibrates at several origins, so each figure carries its `origin`, and
it sets two comparators beside the model (the naive forecast held flat, and a straight-line trend), each with
its own intervals, so that coverage, MAPE and interval scores (calibration.scores) can be compared alike.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from calibration import scores
from sim.present import style
from sim.present.output_folders import replaced_folder

JUDGED = (10, 90)  # the band an observed figure is judged inside or outside
MAX_PANELS = 6  # measures charted, those with the most observed
INTERVALS = ((10, 90), (5, 95))  # the intervals scored, each central with alpha = 1 - (high - low) / 100
SCOPES = (("all figures", None), ("children in care", "children in care"))  # what the scores are taken over
# forecaster -> (column of its point, prefix of its band columns) in the per-figure table
FORECASTERS = {"model": ("simulated_mean", ""), "flat": ("naive", "flat_"), "trend": ("trend", "trend_")}
ALL_ORIGINS = "all"


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
class Comparator:
    """A forecast made without the model (`name` "flat" or "trend"), with intervals like the model's bands.

    `note` says when it is not what its name promises (a trend held flat for want of two figures).
    """

    name: str
    point: float
    bands: tuple[Band, ...]
    note: str = ""


@dataclass(frozen=True)
class Compared:
    """One observed figure against its forecast; `bands[0]` is the P10-P90 band it is judged by.

    `origin` is the date the forecast was made from (None for a backtest with one origin), and
    `comparators` the forecasts it is set against (none for the SSDA903 backtest, which has `naive` only).
    """

    measure: str
    date: dt.date
    observed: float
    mean: float
    bands: tuple[Band, ...]
    naive: float
    source: str = ""
    origin: dt.date | None = None
    comparators: tuple[Comparator, ...] = ()

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
    `origin` is the first origin; a rolling backtest's forecast has an `origin` column, and `flat` and
    `trend` columns for its comparators.
    """

    title: str
    origin: dt.date
    replications: int
    compared: tuple[Compared, ...]
    forecast: pd.DataFrame
    measure_heading: str = "measure"
    date_heading: str = "date"
    band_source: str = "simulation only: parameters fixed"  # what the bands hold (RunSummary.band_source)


def compare_figure(
    measure: str,
    date: dt.date,
    observed: float,
    simulated: np.ndarray,
    naive: float,
    source: str = "",
    wider: tuple[tuple[int, int], ...] = (),
    origin: dt.date | None = None,
    comparators: tuple[Comparator, ...] = (),
) -> Compared:
    """An observed figure against `simulated` (one value per replication), with the P10-P90 band and any `wider`."""
    bands = tuple(
        Band(low, high, *(float(v) for v in np.percentile(simulated, [low, high]))) for low, high in (JUDGED, *wider)
    )
    mean = float(np.mean(simulated))
    return Compared(measure, date, float(observed), mean, bands, float(naive), source, origin, comparators)


def comparator(name: str, point: float, note: str = "") -> Comparator:
    """A comparator's point with a Poisson-style interval for each scored interval (decision 0006)."""
    bands = tuple(Band(low, high, *scores.poisson_band(point, 1 - (high - low) / 100)) for low, high in INTERVALS)
    return Comparator(name, float(point), bands, note)


def table(result: Backtest) -> pd.DataFrame:
    """One row per compared figure; band columns named by percentile (p5, p10, p90, p95).

    A rolling backtest's rows start with their `origin` and end with the comparators: `flat_p10` ... for the
    flat one (whose point is `naive`), then `trend`, `trend_p10` ... and `trend_note`.
    """
    rows = []
    for row in result.compared:
        origin = {"origin": row.origin} if row.origin is not None else {}
        rows.append(
            {
                **origin,
                result.date_heading: row.date,
                result.measure_heading: row.measure,
                "observed": row.observed,
                "simulated_mean": row.mean,
                **_limits(row.bands),
                "naive": row.naive,
                "error": row.error,
                "naive_error": row.naive_error,
                "inside": row.inside,
                "source": row.source,
                **_comparator_columns(row.comparators),
            }
        )
    return pd.DataFrame(rows)


def _limits(bands: tuple[Band, ...], prefix: str = "") -> dict[str, float]:
    limits = {name: value for band in bands for name, value in band.limits().items()}
    return {prefix + name: limits[name] for name in sorted(limits, key=lambda name: int(name[1:]))}


def _comparator_columns(comparators: tuple[Comparator, ...]) -> dict[str, float | str]:
    columns: dict[str, float | str] = {}
    for one in comparators:
        if one.name != "flat":  # the flat comparator's point is the `naive` column
            columns[one.name] = one.point
        columns.update(_limits(one.bands, f"{one.name}_"))
        if one.name != "flat":
            columns[f"{one.name}_note"] = one.note
    return columns


def scores_table(figures: pd.DataFrame, per_origin: bool = True) -> pd.DataFrame:
    """The scores of the model and of each comparator, per origin and over all origins, from `table`'s rows.

    Each is taken over all figures and over children in care alone: the share inside P10-P90 and P5-P95,
    the MAPE of the point (the model's mean), and the interval score of each interval scaled by the figure
    (percent of the figure; calibration.scores). Reads the written CSV as well, so scores can be pooled.
    """
    origins = sorted(figures["origin"].astype(str).unique()) if per_origin else []
    rows = []
    for origin in (*origins, ALL_ORIGINS):
        chosen = figures if origin == ALL_ORIGINS else figures[figures["origin"].astype(str) == origin]
        for scope, measure in SCOPES:
            subset = chosen if measure is None else chosen[chosen["measure"] == measure]
            if len(subset):
                rows.extend({"origin": origin, "figures": scope, **_scores(subset, name)} for name in FORECASTERS)
    return pd.DataFrame(rows)


def _scores(figures: pd.DataFrame, forecaster: str) -> dict[str, float | int | str]:
    point, prefix = FORECASTERS[forecaster]
    observed = figures["observed"].to_numpy(dtype=float)
    scored: dict[str, float | int | str] = {"forecaster": forecaster, "count": len(figures)}
    for low, high in INTERVALS:
        edges = [figures[f"{prefix}p{edge}"].to_numpy(dtype=float) for edge in (low, high)]
        scored[f"inside_p{low}_p{high}"] = scores.coverage(observed, *edges)
    scored["mape"] = scores.mape(observed, figures[point].to_numpy(dtype=float))
    for low, high in INTERVALS:
        edges = [figures[f"{prefix}p{edge}"].to_numpy(dtype=float) for edge in (low, high)]
        scored[f"interval_score_p{low}_p{high}"] = scores.scaled_interval_score(
            observed, *edges, alpha=1 - (high - low) / 100
        )
    scored["note"] = _held_flat(figures) if forecaster == "trend" else ""
    return scored


def _held_flat(figures: pd.DataFrame) -> str:
    flat = int(figures["trend_note"].fillna("").astype(str).str.len().gt(0).sum())
    if not flat:
        return ""
    return f"held flat for {flat} of {len(figures)} figures (fewer than two published figures by the origin)"


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
    """The compared figures for the terminal: the model's P10-P90 band, the comparators, inside as yes or NO."""
    shown = table(result)
    kept = [c for c in shown.columns if c in {"origin", result.date_heading, result.measure_heading}]
    kept += [c for c in ("observed", "simulated_mean", "p10", "p90", "inside", "naive", "trend") if c in shown]
    shown = shown[kept].rename(columns={"naive": "flat"} if "trend" in shown else {})
    shown["inside"] = np.where(shown["inside"], "yes", "NO")
    return shown.to_string(index=False, float_format=lambda v: f"{v:.1f}")


def format_scores(result: Backtest) -> str:
    """The scores per origin and overall for the terminal."""
    return format_score_frame(scores_table(table(result)))


def format_score_frame(scored: pd.DataFrame) -> str:
    """A `scores_table` for the terminal: shares inside as percentages, the notes left to the CSV."""
    shown = scored.drop(columns="note")
    for column in [c for c in shown.columns if c.startswith("inside_")]:
        shown[column] = shown[column] * 100
    return shown.to_string(index=False, float_format=lambda v: f"{v:.1f}")


def format_summary(result: Backtest) -> str:
    return summary(result).to_string(index=False, float_format=lambda v: f"{v:.2f}")


def chart(result: Backtest) -> Figure:
    """One panel per measure (the six most observed): forecast band and mean, naive forecast, observed points.

    A rolling backtest draws each origin's band and mean, with its flat and trend comparators, in its own colour.
    """
    observed = pd.DataFrame([(row.measure, row.observed) for row in result.compared], columns=["measure", "observed"])
    measures = list(observed.groupby("measure")["observed"].max().sort_values(ascending=False).index[:MAX_PANELS])
    rolling = "origin" in result.forecast.columns
    origins = sorted(result.forecast["origin"].unique()) if rolling else [result.origin]
    title = f"{result.title}: backcast{'s' if len(origins) > 1 else ''} from {', '.join(map(str, origins))}"
    figure, axes = style.panels(len(measures) + rolling, title, "date", "children in care (count)", (4.2, 2.8))
    for ax, measure in zip(axes, measures, strict=False):
        if rolling:
            _rolling_panel(ax, result, measure, origins)
        else:
            _panel(ax, result, measure)
    note = (
        f"{result.replications} replications; band: {result.compared[0].band.label} across replications "
        f"({result.band_source})."
    )
    if not rolling:
        axes[0].legend(frameon=False, fontsize=style.LEGEND_POINTS - 1, loc="lower left")
        return style.finish(figure, note, "Naive: the value on the origin date, as known then, held flat.")
    comparators = (
        "Flat (dashed): the figure on the origin date held flat. Trend (dotted): the least-squares line through "
        "the figures known by the origin (flat where there is only one)."
    )
    _legend_panel(axes[-1], axes[0])
    return style.finish(figure, note, comparators)


def _panel(ax, result: Backtest, measure: str) -> None:
    """Observed points and the naive line first, so that the y axis (fixed at zero by the fan) still holds them."""
    path = result.forecast[result.forecast["measure"] == measure]
    dates = path["date"].to_numpy(dtype="datetime64[D]")
    colours = style.TOL_MUTED
    points = [row for row in result.compared if row.measure == measure]
    _observed_points(ax, points)
    ax.plot(dates, np.full(len(dates), points[0].naive), color=colours[4], linestyle="--", label="naive (held flat)")
    style.fan(ax, dates, *(path[c].to_numpy(dtype=float) for c in ("mean", "low", "high")), colours[0], "model mean")
    ax.set_title(measure.replace("_", " "), fontsize=style.LABEL_POINTS)
    style.date_axis(ax)


ORIGIN_COLOURS = (style.TOL_MUTED[0], style.TOL_MUTED[2], style.TOL_MUTED[4], style.TOL_MUTED[8])


def _rolling_panel(ax, result: Backtest, measure: str, origins: list) -> None:
    """Each origin's fan and comparators in its colour, over the observed points (each drawn once).

    The fan fixes the y axis at its first call, so the top is set at the end to hold every origin's lines.
    """
    unique = {(row.date, row.observed): row for row in result.compared if row.measure == measure}
    _observed_points(ax, list(unique.values()))
    frame = result.forecast[result.forecast["measure"] == measure]
    for index, origin in enumerate(origins):
        path = frame[frame["origin"] == origin]
        colour = ORIGIN_COLOURS[index % len(ORIGIN_COLOURS)]
        dates = path["date"].to_numpy(dtype="datetime64[D]")
        ax.plot(dates, path["flat"], color=colour, linestyle="--", linewidth=1, label=f"flat from {origin}")
        ax.plot(dates, path["trend"], color=colour, linestyle=":", linewidth=1.2, label=f"trend from {origin}")
        values = (path[c].to_numpy(dtype=float) for c in ("mean", "low", "high"))
        style.fan(ax, dates, *values, colour, f"model from {origin}", alpha=style.OVERLAY_BAND_ALPHA)
    top = max(frame[["high", "flat", "trend"]].to_numpy().max(), max(row.observed for row in unique.values()))
    ax.set_ylim(0, top * 1.05)
    ax.set_title(measure.replace("_", " "), fontsize=style.LABEL_POINTS)
    style.date_axis(ax)


def _legend_panel(spare, drawn) -> None:
    """The legend of every panel in a panel of its own, where it covers no data."""
    spare.axis("off")
    handles, labels = drawn.get_legend_handles_labels()
    columns = 2 if len(handles) > 5 else 1
    spare.legend(handles, labels, loc="center", ncols=columns, frameon=False, fontsize=style.LEGEND_POINTS)


def _observed_points(ax, points: list[Compared]) -> None:
    ax.scatter(
        [np.datetime64(row.date, "D") for row in points],
        [row.observed for row in points],
        color=style.TOL_MUTED[6],
        s=12,
        zorder=3,
        label="observed",
    )


SCORE_PANELS = (
    ("inside_p10_p90", "inside P10-P90 (% of figures)", 80.0),
    ("inside_p5_p95", "inside P5-P95 (% of figures)", 90.0),
    ("mape", "MAPE of the mean or point (%)", None),
    ("interval_score_p10_p90", "interval score, P10-P90 (% of figure)", None),
    ("interval_score_p5_p95", "interval score, P5-P95 (% of figure)", None),
)
FORECASTER_COLOURS = {"model": style.TOL_MUTED[0], "flat": style.TOL_MUTED[5], "trend": style.TOL_MUTED[3]}


def scores_chart(result: Backtest) -> Figure:
    """The scores over all figures, per origin and over all origins: the model's bars beside the comparators'."""
    scored = scores_table(table(result))
    scored = scored[scored["figures"] == "all figures"]
    groups = list(dict.fromkeys(scored["origin"]))
    title = f"{result.title}: backcast scores, model and comparators"
    figure, axes = style.panels(len(SCORE_PANELS) + 1, title, "origin of the backcast", "", (3.6, 2.6))
    width = 0.8 / len(FORECASTERS)
    for ax, (column, heading, nominal) in zip(axes, SCORE_PANELS, strict=False):
        for offset, name in enumerate(FORECASTERS):
            mine = scored[scored["forecaster"] == name].set_index("origin").reindex(groups)[column].to_numpy()
            shown = mine * 100 if column.startswith("inside_") else mine
            x = np.arange(len(groups)) + (offset - (len(FORECASTERS) - 1) / 2) * width
            bars = ax.bar(x, shown, width, color=FORECASTER_COLOURS[name], label=name)
            ax.bar_label(bars, fmt="%.0f", fontsize=style.TICK_POINTS - 2, color=style.FOOTNOTE_GREY, padding=1)
        if nominal is not None:
            ax.axhline(nominal, color=style.GUIDE_GREY, linestyle="--", linewidth=0.8, label="nominal share")
        ax.set_xticks(np.arange(len(groups)), groups)
        ax.set_title(heading, fontsize=style.LABEL_POINTS)
        ax.margins(y=0.12)
    lower = (
        "Lower is better for the MAPE and the interval score (width + (2/alpha) x distance outside, over the figure)."
    )
    honest = "Coverage should be near its nominal share: not too narrow, and not bought by width."
    intervals = (
        "Model: P10-P90 and P5-P95 across replications. Comparators: point -/+ z sqrt(point), a Poisson-style count "
        "interval (decision 0006)."
    )
    _legend_panel(axes[-1], axes[0])
    return style.finish(figure, f"{result.replications} replications. {intervals}", honest, lower)


def write_backtest(
    result: Backtest,
    out_dir: Path,
    table_name: str,
    chart_name: str,
    summary_name: str | None = None,
    scores_names: tuple[str, str] | None = None,
) -> list[Path]:
    """The summary (when named), the table, the chart, and the scores table and chart (when named) in `out_dir`,
    which is replaced whole.

    The names are the command's: the output folders recognise a backtest's folder by them (see
    sim.present.output_folders), so each command keeps its own.
    """
    out_dir = Path(out_dir)
    with replaced_folder(out_dir, "backtest") as staging:
        figure = chart(result)
        if summary_name is not None:
            summary(result).to_csv(staging / summary_name, index=False, float_format="%.3f")
        figures = table(result)
        figures.to_csv(staging / table_name, index=False, float_format="%.2f")
        figure.savefig(staging / chart_name, dpi=style.PNG_DPI, facecolor="white")
        if scores_names is not None:
            scores_table(figures).to_csv(staging / scores_names[0], index=False, float_format="%.4f")
            scores_chart(result).savefig(staging / scores_names[1], dpi=style.PNG_DPI, facecolor="white")
    names = (summary_name, table_name, chart_name, *(scores_names or ()))
    return [out_dir / name for name in names if name is not None]


SCORES = Path(__file__).resolve().parent.parent / "docs" / "calibration"  # backtest_scores_<authority>.csv


def backtest_line(scenario_name: str, scores: Path = SCORES) -> str | None:
    """One line on how far the rolling backtests of the scenario's authority have been off (the authority is
    the one whose name the scenario's starts with), or None when no backtest of it was written."""
    for path in sorted(scores.glob("backtest_scores_*.csv")):
        authority = path.stem.removeprefix("backtest_scores_")
        if not scenario_name.startswith(authority):
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            rows = {
                row["figures"]: row
                for row in csv.DictReader(handle)
                if row["origin"] == "all" and row["forecaster"] == "model"
            }
        if {"children in care", "all figures"} - set(rows):
            return None
        stock, every = rows["children in care"], rows["all figures"]
        return (
            f"Backtests of the {authority} calibration from every earlier published date (docs/calibration.md): "
            f"children in care inside the simulated P10-P90 band for {float(stock['inside_p10_p90']):.0%} of "
            f"{stock['count']} later figures, the mean off by {float(stock['mape']):.1f}% on average; all published "
            f"figures {float(every['inside_p10_p90']):.0%} inside, off by {float(every['mape']):.1f}%."
        )
    return None
