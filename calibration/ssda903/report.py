"""The calibration report `sufficiency calibrate --ssda903` writes next to the scenario: fitted against observed.

Aggregates only (counts, rates, fitted distributions): no child-level value reaches it. The charts are drawn
in the product's chart style (sim.present.style) as `Figure` objects, without pyplot, so that importing or
running the calibration never switches a notebook's backend.
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from calibration.ssda903 import estimate, moves
from calibration.ssda903.dfe_rules import NOT_ASKED, DfeRulesSummary, failures_frame, steps_frame, summary_lines
from sim.engine.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR
from sim.present import style

if TYPE_CHECKING:  # calibrate imports this module to write the report
    from calibration.ssda903.calibrate import Calibration

REPORT_DPI = 90  # charts embedded in the page, small enough to keep it light


def report_html(
    result: Calibration, scenario_name: str, dfe: tuple[DfeRulesSummary | None, str] = (None, NOT_ASKED)
) -> str:
    """Fitted against observed: entries per year, stays by age band, placement mix, the data cleaning, and the
    DfE's validation rules on the returns (`dfe`: run_dfe_rules's summary and reason) beside the cleaning."""
    entries = result.entries
    parts = [
        f"<h1>Calibration from SSDA903 returns: {html.escape(scenario_name)}</h1>",
        f"<p>As of {result.as_of}; fitted to {result.reference.label}; data extracted to "
        f"{result.history.extract_date}. Bands on charts are labelled. No child-level data appear in this report.</p>",
        "<h2>Entries per year</h2>",
        _img(_entries_chart(entries)),
        f"<p>Trend {entries.trend_percent:.1f}% a year (95% interval {entries.trend_ci[0]:.1f}% to "
        f"{entries.trend_ci[1]:.1f}%, log-linear Poisson fit). The scenario starts from the fitted line's level on "
        f"{result.as_of}: {entries.rate_at_start:.1f} entries a year (sd of the log {entries.rate_log_sd:.3f}), "
        f"against the period's mean of {entries.window_rate:.1f}; UASC entries {entries.uasc_rate:.1f} a year of "
        "them.</p>",
        "<h2>Time in care by age at entry</h2>",
        "<p>Kaplan-Meier estimate of staying in care (all exit routes, open periods censored) against the fitted "
        "competing-risks model (routes and stays, cut at the 18th birthday).</p>",
        _img(_durations_chart(result)),
        _durations_table(result),
        "<h2>Moves between placement needs</h2>",
        f"<p>{result.moves.need_changes} moves between needs in the reference period; the adoption route and "
        "placements for adoption are left out (the model gives them no moves). Hazards are moves per year at risk "
        "by age band at the time, with exact 95% intervals, shrunk towards the pair's all-band hazard (empirical "
        f"Bayes); bands marked pooled have fewer than {moves.MIN_EVENTS} moves and lean on the other bands.</p>",
        _birthday_table(result),
        _hazard_table(result),
        "<h2>Unplanned placement endings</h2>",
        "<p>Placements that ended with REC X1 and a REASON_PLACE_CHANGE no plan chose (the carer's or the "
        "child's request, an allegation, a standards concern, approval removed, the provision closing), per year "
        "at risk by the need of the placement, with exact 95% intervals; planned changes beside them.</p>",
        _breakdowns_table(result),
        "<h2>Placement mix on the as-of date</h2>",
        _mix_table(result),
        "<h2>Data cleaning</h2>",
        result.history.report.to_frame().to_html(index=False, border=0),
        *_dfe_section(result, *dfe),
    ]
    page_style = (
        "body{font-family:sans-serif;max-width:1000px;margin:auto}table{border-collapse:collapse}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ccc;text-align:right}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{page_style}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def _dfe_section(result: Calibration, summary: DfeRulesSummary | None, reason: str) -> list[str]:
    """The DfE rules' results per return and by rule code, then each cleaning step with the DfE codes that flag
    the same fault (codes and counts only: calibration/ssda903/dfe_rules.py)."""
    parts = ["<h2>The DfE's validation rules</h2>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in summary_lines(summary, reason)]
    if summary is not None:
        parts += ["<h3>Failing rows by DfE rule and collection year</h3>", _html_table(failures_frame(summary))]
    parts += [
        "<h3>The cleaning steps and the DfE rules that flag the same fault</h3>",
        _html_table(steps_frame(result.history.report, summary)),
    ]
    return parts


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0) if not frame.empty else "<p>(none)</p>"


def _breakdowns_table(result: Calibration) -> str:
    rows = [
        {
            "need": need,
            "unplanned endings": b.endings,
            "planned changes": b.planned,
            "years at risk": round(b.years_at_risk, 1),
            "hazard a year": round(b.hazard, 3),
            "95% interval": f"{b.interval[0]:.3f} to {b.interval[1]:.3f}",
        }
        for need, b in sorted(result.breakdowns.items())
    ]
    return _html_table(pd.DataFrame(rows))


def _img(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=REPORT_DPI, bbox_inches="tight", facecolor="white")
    return f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"


def _entries_chart(entries: estimate.EntryEstimate) -> Figure:
    figure = Figure(figsize=(7, 3), layout="constrained")
    axis = figure.subplots()
    style.style_axes(axis)
    years = [str(y) for y in entries.years]
    axis.bar(years, entries.counts, color=style.TOL_MUTED[1], label="observed entries (12 months)")
    axis.plot(years, entries.fitted_counts, color=style.TOL_MUTED[0], linewidth=2, marker="o", label="fitted trend")
    axis.set_ylabel("children entering care", fontsize=style.LABEL_POINTS)
    axis.set_title("Children entering care per year (12 months from the date shown)", fontsize=style.LABEL_POINTS + 1)
    axis.legend(frameon=False, fontsize=style.LEGEND_POINTS)
    return figure


def _durations_chart(result: Calibration) -> Figure:
    """One panel per age band, three to a row, the legend in the spare cell."""
    figure = Figure(figsize=(10, 6.4), layout="constrained")
    grid = figure.subplots(2, 3, sharey=True)
    axes = list(grid.ravel())
    for axis, band in zip(axes, AGE_BANDS, strict=False):
        style.style_axes(axis)
        fit = result.durations[band]
        observed = style.TOL_MUTED[6]
        axis.step(fit.km_time, fit.km_survival, where="post", color=observed, label="observed (Kaplan-Meier)")
        grid_days = np.linspace(0, max(fit.km_time.max() if len(fit.km_time) else 1, 365), 200)
        model = _model_survival(fit, band, grid_days)
        axis.plot(grid_days, model, color=style.TOL_MUTED[0], linewidth=2, label="fitted model")
        if fit.periods == 0:
            note = "no periods in the window:\nthe all-ages fit"
            axis.text(0.5, 0.1, note, transform=axis.transAxes, ha="center", fontsize=style.TICK_POINTS)
        axis.set_title(f"entered aged {band} ({fit.periods} periods)", fontsize=style.LABEL_POINTS)
        axis.set_xlabel("days in care", fontsize=style.TICK_POINTS)
    for axis in grid[:, 0]:
        axis.set_ylabel("share still in care", fontsize=style.LABEL_POINTS)
    spare = axes[len(AGE_BANDS)]  # the five bands leave the last cell of the 2 x 3 grid free
    spare.axis("off")
    spare.legend(*axes[0].get_legend_handles_labels(), loc="center", fontsize=style.LEGEND_POINTS, frameon=False)
    return figure


def _model_survival(fit: estimate.BandDurations, band: str, grid: np.ndarray) -> np.ndarray:
    low, high = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(band)]
    caps = (18 - (low + (np.arange(20) + 0.5) / 20 * (high - low))) * DAYS_PER_YEAR
    survival = np.zeros_like(grid)
    for route, share in fit.route_shares.items():
        stay = np.ones_like(grid) if route == "age_18" else fit.fits[route].frozen().sf(grid)
        survival += share * stay
    return survival * np.mean(grid[:, None] < caps[None, :], axis=1)


def _durations_table(result: Calibration) -> str:
    rows = []
    for band in AGE_BANDS:
        fit = result.durations[band]
        for route, share in fit.route_shares.items():
            detail = fit.fits.get(route)
            rows.append(
                {
                    "age at entry": band,
                    "exit route": route,
                    "share": round(share, 3),
                    "family (AIC)": f"{detail.family} ({detail.aic:.0f})" if detail else "until 18",
                    "median days": round(detail.median_days) if detail else "",
                }
            )
    return pd.DataFrame(rows).to_html(index=False, border=0)


def _birthday_table(result: Calibration) -> str:
    rows = [
        {
            "from": m.from_need,
            "to": m.to_need,
            "birthday": m.age,
            "moved": m.moved,
            "in the need on the birthday": m.at_risk,
            "probability (95% interval)": f"{m.probability:.3f} ({m.low:.3f} to {m.high:.3f})",
        }
        for m in result.moves.birthdays
    ]
    if not rows:
        return f"<p>No moves cluster after a 16th or 17th birthday (within {moves.BIRTHDAY_WINDOW_DAYS} days).</p>"
    return pd.DataFrame(rows).to_html(index=False, border=0)


def _hazard_table(result: Calibration) -> str:
    rows = [
        {
            "from": pair.from_need,
            "to": pair.to_need,
            "age band": band.band,
            "moves": band.moves,
            "years at risk": round(band.years_at_risk, 1),
            "hazard a year (95% interval)": f"{band.raw:.3f} ({band.low:.3f} to {band.high:.3f})",
            "fitted hazard": round(band.rate, 4),
            "own weight": round(band.weight, 2),
            "pooled": "yes" if band.pooled else "",
        }
        for pair in result.moves.hazards.values()
        for band in pair.bands.values()
        if band.years_at_risk > 0
    ]
    return pd.DataFrame(rows).to_html(index=False, border=0) if rows else "<p>No moves between needs.</p>"


def _mix_table(result: Calibration) -> str:
    stock = result.stock
    mix = stock.groupby(["need", "in_house"]).size().rename("children").reset_index()
    mix["share"] = (mix["children"] / mix["children"].sum()).round(3)
    return mix.to_html(index=False, border=0)
