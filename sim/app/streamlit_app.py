"""The workshop page: choose a baseline, pull the levers, run, and compare the what-if with the baseline.

Started by `sufficiency app` (`sim.app.launch`). The runs, comparisons and files come from `sim.app.session`;
this module only lays out widgets and results, so the logic is tested without a browser. The page shows
counts, means and intervals only: never a child's row, even when a starting-population CSV is uploaded.

Every failure shows as one line, never a traceback (`sim.app.messages`), and text from a scenario file is
shown as plain text, its description cut short.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st
from matplotlib.figure import Figure
from pydantic import ValidationError
from streamlit.runtime.uploaded_file_manager import UploadedFile

from sim.analysis.compare import MEASURE_LABELS, headline_year
from sim.analysis.sizing import sizing_table
from sim.analysis.what_if import LIMITS, Levers, default_homes_date, fostering_pool, home_pool
from sim.app.formatting import amount, differences_table, headline, is_money, sizing_shown
from sim.app.limits import DEFAULT_REPLICATIONS, KEPT_BASELINES, MAX_REPLICATIONS
from sim.app.messages import plain, problem
from sim.app.session import KEPT_RUNS, SIZING_REPLICATIONS, Baseline, WhatIf, Workshop, budget_workbook, fallbacks_table
from sim.app.uploads import MAX_UPLOAD_MB, replace_start_population, scenario_from_upload, start_csv_from_upload
from sim.engine.scenario import Scenario
from sim.engine.scenario_files import load_scenario
from sim.present import charts
from sim.present.charts import MAX_DESCRIPTION_CHARS, short
from sim.results.summary import FALLBACK_ROWS, FALLBACKS_TITLE, RunSummary

TITLE = "Care sufficiency workshop"
SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"  # <authority>/baseline.toml in a source checkout
UPLOAD = "upload"
MAX_SEED_INPUT = 2**53 - 1  # the largest whole number a browser's number box holds exactly
# Widgets whose default comes from the baseline: reset when the baseline changes.
BASELINE_WIDGETS = ("seed", "homes_date", "entries_trend", "staying_put", "extra_foster_approvals")
# measure, label, whether a rise is bad (shown red); each gap figure named, never both summed. Labels of at most
# about 25 characters: five to a row, a longer one is cut off at 1400 pixels (each metric's help says it all).
HEADLINES = (
    ("placed_in_house", "Placed in-house", False),
    ("placed_externally", "Placed externally", True),
    ("not_sufficient_child_days_total", "Not sufficient, child-days", True),
    ("placed_externally_child_days_total", "Bought in, child-days", True),  # placed externally, the right kind
    ("spend_total", "Total spend, £m", True),
)
GAP_NOTE = (
    "Two gap figures, told apart: **not sufficient** (the wrong kind of placement, an emergency or unregistered "
    "placement, a child needing secure care without it, or the right kind beyond 20 miles) and **placed "
    "externally (right kind)**, *bought in* on the headline (below the first choice: a question of cost and "
    "distance). The first chart counts every day outside the first-choice pool, both together; the ledger splits "
    "them by kind."
)
NUMBERS = {  # columns of a differences row, as the page labels them
    "base_mean": "baseline mean",
    "what_if_mean": "what-if mean",
    "difference": "mean difference",
    "ci95_low": "95% CI low",
    "ci95_high": "95% CI high",
}
BANDS_NOTE = (
    "Differences are paired (the same children in the baseline and each what-if): the interval shown with a "
    "difference is the **95% confidence interval of the mean difference** (simulation error). Bands on the "
    "charts of children and places are the **P10-P90 spread across replications** (the range to plan for); it "
    "holds the uncertainty of the fitted parameters too when the baseline draws them (each chart's footnote "
    "says which)."
)


def main() -> None:
    st.set_page_config(page_title=TITLE, layout="wide")
    try:
        _page()
    except Exception as error:  # the last resort: Streamlit's own error box would show the traceback
        st.error(problem("The page cannot be shown", error))


def _page() -> None:
    options = _options()
    st.title(TITLE)
    with st.sidebar:
        baseline, baseline_id, trouble = _choose_baseline(SHIPPED)
    if baseline is None:
        if trouble:
            st.error(trouble)
        st.info("Choose a shipped baseline, or upload a scenario file (TOML), in the sidebar.")
        st.stop()
    with st.sidebar:
        workshop = _workshop(baseline, baseline_id, options.jobs)
        levers = _levers(baseline.scenario)
        run_clicked = st.button("Run the what-if", type="primary", key="run", width="stretch")
    _describe_baseline(baseline)
    if run_clicked and levers is not None:
        _run(workshop, levers)
    if workshop.history:
        _results(workshop)
    else:
        st.info("Set the levers in the sidebar and press **Run the what-if**.")


def _options() -> argparse.Namespace:
    """Options `sufficiency app` passes after `--` (Streamlit hands them to the page as sys.argv)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--jobs", type=int, default=1)
    return parser.parse_known_args(sys.argv[1:])[0]


# ---------------------------------------------------------------------------------------------
# Sidebar


def _choose_baseline(folder: Path) -> tuple[Baseline | None, str, str]:
    """The baseline (shipped or uploaded, with an optional CSV), an id for its content, and any problem."""
    st.header("Baseline")
    shipped = {path.parent.name: path for path in sorted(folder.glob("*/baseline.toml"))}
    choice = st.selectbox(
        "Authority and baseline",
        [*shipped, UPLOAD],
        format_func=lambda c: "Upload a scenario file (TOML)" if c == UPLOAD else c.replace("_", " ").title(),
        key="baseline",
    )
    toml_file = None
    if choice == UPLOAD:
        toml_file = st.file_uploader(
            "Scenario file (TOML, self-contained)", type=["toml"], key="upload_toml", max_upload_size=MAX_UPLOAD_MB
        )
    csv_file = st.file_uploader(
        "Starting population (CSV, optional)",
        type=["csv"],
        key="upload_csv",
        max_upload_size=MAX_UPLOAD_MB,
        help="Columns age_years, need, pool, days_in_care: replaces the baseline's children in care at the start. "
        "Kept in memory only, and never shown.",
    )
    if choice == UPLOAD and toml_file is None:
        return None, "", ""
    parts = [choice] if toml_file is None else [toml_file.name, toml_file.getvalue()]
    if csv_file is not None:
        parts += [csv_file.name, csv_file.getvalue()]
    baseline_id = hashlib.sha256(b"\0".join(p if isinstance(p, bytes) else p.encode() for p in parts)).hexdigest()
    loaded = st.session_state.setdefault("baselines", {})
    if baseline_id not in loaded:
        while len(loaded) >= KEPT_BASELINES:  # every upload read is kept: keep only the latest few
            loaded.pop(next(iter(loaded)))
        try:
            loaded[baseline_id] = _load_baseline(shipped.get(choice), toml_file, csv_file)
        except Exception as error:  # a bad upload: say so and keep the page working
            return None, "", problem("This file cannot be used", error)
    return loaded[baseline_id], baseline_id, ""


def _load_baseline(path: Path | None, toml_file: UploadedFile | None, csv_file: UploadedFile | None) -> Baseline:
    csv = start_csv_from_upload(csv_file.name, csv_file.getvalue()) if csv_file is not None else None
    if toml_file is not None:
        scenario = scenario_from_upload(toml_file.name, toml_file.getvalue(), csv)
        return Baseline(f"uploaded {toml_file.name}", scenario, start_csv=csv)
    scenario = load_scenario(path)
    label = f"{path.parent.name}/{path.name}"
    if csv is None:
        return Baseline(label, scenario, path=path)
    return Baseline(f"{label} with {csv.name}", replace_start_population(scenario, csv), path=path, start_csv=csv)


def _workshop(baseline: Baseline, baseline_id: str, jobs: int) -> Workshop:
    """The session's workshop for this baseline, replication count and seed (a new one, and history, on change)."""
    if st.session_state.get("baseline_id") != baseline_id:
        for key in BASELINE_WIDGETS:
            st.session_state.pop(key, None)
        st.session_state["baseline_id"] = baseline_id
    st.header("Run")
    replications = st.number_input(
        "Replications",
        min_value=2,
        max_value=MAX_REPLICATIONS,
        value=DEFAULT_REPLICATIONS,
        step=10,
        key="replications",
        help=f"At most {MAX_REPLICATIONS}, so a what-if comes back in seconds. More replications narrow the "
        "confidence intervals; they do not narrow the P10-P90 spread.",
    )
    seed = st.number_input(
        "Seed", min_value=0, max_value=MAX_SEED_INPUT, value=min(baseline.scenario.seed, MAX_SEED_INPUT), key="seed"
    )
    key = (baseline_id, int(replications), int(seed))
    workshop = st.session_state.get("workshop")
    if workshop is None or st.session_state.get("workshop_key") != key:
        if workshop is not None and workshop.history:
            st.caption("New baseline, replications or seed: the history starts again.")
        workshop = Workshop(baseline, int(replications), int(seed), jobs)
        st.session_state["workshop"], st.session_state["workshop_key"] = workshop, key
    return workshop


def _levers(scenario: Scenario) -> Levers | None:
    st.header("Levers")
    values = {
        **_homes_levers(scenario),
        **_fostering_levers(scenario),
        **_step_down_levers(),
        **_entries_levers(scenario),
        **_price_levers(scenario),
    }
    if not values.get("homes_change"):  # the size and date of no homes are not a change
        values.pop("beds_per_home", None)
        values.pop("homes_date", None)
    if values.get("step_down_share") is None:
        values.pop("step_down_after_months", None)
    for lever, now in (
        ("entries_trend_percent_per_year", scenario.entries.trend_percent_per_year),
        ("staying_put_probability", scenario.leaving_care.staying_put.probability),
    ):
        if values.get(lever) == now:
            values[lever] = None
    try:
        return Levers(**values)
    except ValidationError as error:
        st.error("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))
        return None


def _homes_levers(scenario: Scenario) -> dict:
    with st.expander("Children's homes", expanded=True):
        name = home_pool(scenario)
        if name is None:
            st.caption("This baseline has no in-house children's home pool.")
            return {}
        pool = scenario.pools[name]
        st.caption(f"Pool `{name}`: {pool.capacity} beds in {pool.homes} homes on {scenario.horizon.start}.")
        low, high = LIMITS["homes_change"]
        homes = st.number_input("Homes to open (+) or close (−)", int(low), int(high), 0, 1, key="homes_change")
        low, high = LIMITS["beds_per_home"]
        beds = st.number_input("Beds per home", int(low), int(high), 2, 1, key="beds_per_home")
        last = scenario.horizon.end - dt.timedelta(days=1)
        date = st.date_input(
            "Opening or closing date",
            value=min(default_homes_date(scenario), last),  # a one-year horizon can end before the next 1 April
            min_value=scenario.horizon.start,
            max_value=last,
            key="homes_date",
        )
    return {"homes_change": int(homes), "beds_per_home": int(beds), "homes_date": date}


def _fostering_levers(scenario: Scenario) -> dict:
    with st.expander("Foster carers"):
        name = fostering_pool(scenario)
        if name is None:
            st.caption("This baseline has no in-house fostering pool with foster households.")
            return {}
        now = scenario.pools[name].fostering.approvals_per_year
        st.caption(f"Pool `{name}` approves {amount(now)} households a year in the baseline.")
        low, high = LIMITS["extra_foster_approvals_per_year"]
        extra = st.number_input(
            "Extra foster households approved a year",
            max(float(low), -now),
            float(high),
            0.0,
            1.0,
            key="extra_foster_approvals",
        )
    return {"extra_foster_approvals_per_year": extra}


def _step_down_levers() -> dict:
    with st.expander("Step-down programme"):
        on = st.checkbox("Step children down from residential care to fostering", key="step_down")
        share = st.slider("Share who step down (%)", 0, 100, 30, 5, key="step_down_share", disabled=not on)
        high = int(LIMITS["step_down_after_months"][1])
        months = st.slider(
            "After (months in residential care)", 0, high, (6, 9), key="step_down_months", disabled=not on
        )
    return {"step_down_share": share / 100 if on else None, "step_down_after_months": months}


def _entries_levers(scenario: Scenario) -> dict:
    with st.expander("Entries into care and Staying Put"):
        low, high = LIMITS["entries_change_percent"]
        change = st.slider("Change in entries into care (%)", int(low), int(high), 0, 5, key="entries_change")
        low, high = LIMITS["entries_trend_percent_per_year"]
        now = float(scenario.entries.trend_percent_per_year)  # the box holds it even outside the lever's range
        fade = scenario.entries.trend_fade
        trend = st.number_input(
            "Trend in entries (% a year)",
            min(float(low), now),
            max(float(high), now),
            now,
            0.5,
            key="entries_trend",
            help=None
            if fade is None
            else f"On the start date; it then fades toward {fade.to_percent_per_year:g}% a year, halving its "
            f"distance every {fade.half_life_years:g} years (entries.trend_fade)",
        )
        staying_put = st.slider(
            "Fostered 18-year-olds who Stay Put",
            0.0,
            1.0,
            float(scenario.leaving_care.staying_put.probability),
            0.01,
            key="staying_put",
        )
    return {
        "entries_change_percent": float(change),
        "entries_trend_percent_per_year": trend,
        "staying_put_probability": staying_put,
    }


def _price_levers(scenario: Scenario) -> dict:
    with st.expander("Prices and inflation"):
        if scenario.prices is None:
            st.caption("This baseline has no price book, so it has no budget.")
            return {}
        values = {}
        for lever, label, step in (
            ("external_price_change_percent", "External placement prices (% change)", 5.0),
            ("in_house_price_change_percent", "In-house prices (% change)", 5.0),
            ("inflation_change_points", "Every inflation rate (percentage points)", 0.5),
        ):
            low, high = LIMITS[lever]
            values[lever] = st.number_input(label, float(low), float(high), 0.0, step, key=lever)
    return values


# ---------------------------------------------------------------------------------------------
# Main area


def _describe_baseline(baseline: Baseline) -> None:
    scenario = baseline.scenario
    horizon = scenario.horizon
    finite = [f"{name} {pool.capacity}" for name, pool in scenario.pools.items() if not pool.unlimited]
    described = short(scenario.description or scenario.name, MAX_DESCRIPTION_CHARS)
    st.markdown(
        f"**Baseline:** {plain(baseline.label)}: {plain(described)}. "
        f"{horizon.start} to {horizon.end}; {sum(scenario.entries.rate_per_year.values()):.0f} entries a year "
        f"at the start; places at the start: {', '.join(finite) or 'all pools unlimited'}."
    )


def _run(workshop: Workshop, levers: Levers) -> None:
    total = workshop.replications * (2 if workshop.base is None else 1)
    bar = st.progress(0.0, text="Starting")
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        step = "baseline (once for these settings), then the what-if" if total > workshop.replications else "what-if"
        bar.progress(min(done / total, 1.0), text=f"Simulating the {step}: {done} of {total} replications")

    answer = st.empty()

    def show(first: WhatIf) -> None:
        """A partial answer while the run goes on; a lever changed now stops the run (Streamlit raises here)."""
        count = first.result.replications
        year = headline_year(first.result.run_summary)
        with answer.container():
            st.subheader(f"First answer: {count} of {workshop.replications} replications, refining")
            st.info(plain(first.summary))
            _headline_metrics(first, year, count)
            st.caption(
                f"After {first.seconds:.1f} s. The figures and their intervals rest on the {count} replications "
                "finished so far; they change a little as the rest finish."
            )

    try:  # checks the baseline's run too, if it is still to come, before either
        workshop.try_levers(levers, advance, show)
    except Exception as error:
        st.error(problem("This what-if cannot run", error))
    finally:
        bar.empty()
        answer.empty()


def _results(workshop: Workshop) -> None:
    latest = workshop.history[-1]
    year = headline_year(workshop.run_base().result.run_summary)
    st.subheader(f"{latest.name.replace('_', ' ').capitalize()} against the baseline")
    st.info(plain(latest.summary))
    st.markdown(f"**Financial year {year}**: the what-if's mean, and its change from the baseline")
    _headline_metrics(latest, year, workshop.replications)
    st.caption(
        f"{workshop.replications} replications, seed {workshop.seed}; this what-if took {latest.seconds:.1f} s"
        + (" with the baseline, run beside it once. " if latest.with_baseline else ". ")
        + BANDS_NOTE
    )
    # Stateful tabs: only the open tab is drawn, and it stays open when the page reruns.
    tabs = st.tabs(list(TABS), key="tab", on_change="rerun")
    for tab, (title, draw) in zip(tabs, TABS.items(), strict=True):
        if tab.open:
            with tab:
                try:
                    draw(workshop)
                except Exception as error:
                    st.error(problem(f"{title} cannot be shown", error))
    _history(workshop)
    _downloads(workshop)


def _headline_metrics(latest: WhatIf, year: str, replications: int) -> None:
    """The headlines of a what-if, each saying how many replications it rests on (fewer for a partial answer)."""
    rows = latest.differences
    rows = rows[(rows["financial_year"] == year) & (rows["category"] == "all")].set_index("measure")
    shown = [h for h in HEADLINES if h[0] in rows.index]
    for column, (measure, label, rise_is_bad) in zip(st.columns(len(shown)), shown, strict=True):
        money = is_money(measure)
        row = rows.loc[measure, list(NUMBERS)].astype(float)
        base, low, high = (amount(row[c], money) for c in ("base_mean", "ci95_low", "ci95_high"))
        column.metric(
            label,
            headline(row["what_if_mean"], money),
            headline(row["difference"], money, sign=True),
            delta_color="inverse" if rise_is_bad else "normal",
            help=f"{MEASURE_LABELS.get(measure, measure).capitalize()}. Baseline mean {base}; what-if mean "
            f"{amount(row['what_if_mean'], money)}; mean difference {amount(row['difference'], money, sign=True)}, "
            f"95% confidence interval {low} to {high}. From {replications} replications.",
        )


def _differences_tab(workshop: Workshop) -> None:
    comparison = workshop.comparison()
    years = sorted(set(comparison.differences["financial_year"]))
    year = st.selectbox("Financial year", years, index=years.index(comparison.headline_year), key="year")
    names = list(comparison.summaries)
    _chart(workshop, ("differences", year, *names), lambda: charts.differences(comparison, year))
    st.caption(
        f"What-ifs held in memory, side by side: {', '.join(names)}. Difference = what-if minus baseline; "
        "interval: 95% confidence interval of the mean difference."
    )
    rows = comparison.differences[comparison.differences["financial_year"] == year]
    st.dataframe(differences_table(rows[rows["category"] == "all"]), hide_index=True, width="stretch")
    with st.expander("By placement need and by pool"):
        st.dataframe(differences_table(rows[rows["category"] != "all"]), hide_index=True, width="stretch")


def _children_tab(workshop: Workshop) -> None:
    comparison = workshop.comparison()
    scenarios = [comparison.base, *comparison.what_ifs]
    _chart(workshop, ("overlay", *comparison.summaries), lambda: charts.overlay(scenarios))
    _baseline_and_latest(workshop, "fan", charts.fan_chart)


def _baseline_and_latest(workshop: Workshop, chart: str, build: Callable[[RunSummary], Figure | None]) -> None:
    """One chart for the baseline and one for the latest what-if, one above the other (each needs the width)."""
    latest = workshop.history[-1]
    for title, result in (("Baseline", workshop.run_base().result), (latest.name, latest.result)):
        st.markdown(f"**{title}**")
        _chart(workshop, (chart, result.scenario.name), lambda r=result: build(r.run_summary))


def _gap_tab(workshop: Workshop) -> None:
    """Both gap figures by need and by kind, then emergency, unregistered and high-cost placements and secure
    shortages by financial year, for the baseline and the latest what-if."""
    st.caption(GAP_NOTE)
    _baseline_and_latest(workshop, "gap", charts.gap_by_need)
    _baseline_and_latest(workshop, "gap_ledger", charts.gap_ledger)
    latest = workshop.history[-1]
    st.markdown(f"**{FALLBACKS_TITLE}**")
    for title, result in (("Baseline", workshop.run_base().result), (latest.name, latest.result)):
        run = result.run_summary
        st.markdown(f"*{plain(title)}*: mean ({plain(run.band_label)})")
        st.dataframe(fallbacks_table(run), hide_index=True, width="stretch")
    rows = workshop.run_base().result.run_summary.fallback_rows
    st.caption(" ".join(f"{FALLBACK_ROWS[row][0].upper()}{FALLBACK_ROWS[row][1:]}." for row in rows))


def _chart(workshop: Workshop, key: tuple[str, ...], build: Callable[[], Figure | None]) -> None:
    data = workshop.chart(key, build)
    if data is None:
        st.caption("Nothing to show: this scenario has no price book.")
    else:
        st.image(data, alt=f"{key[0]} chart")


def _sizing_tab(workshop: Workshop) -> None:
    scenarios = {workshop.baseline.scenario.name: workshop.baseline.scenario}
    scenarios |= {w.name: w.result.scenario for w in workshop.kept}
    name = st.selectbox("Size the in-house pools of", list(scenarios), key="sizing_scenario")
    st.caption(
        "For each finite in-house pool: the share of its demand placed in it against its capacity, from runs with "
        "the pool unlimited (Erlang's truncation identity; a dispersion well above 1 means the curve is optimistic). "
        "The diamond marks the capacity on the start date."
    )
    with st.spinner("Sizing: one run per pool with the pool unlimited"):
        curves = workshop.sizing_for(scenarios[name])
    if not curves:
        st.caption("This scenario has no finite in-house pool.")
        return
    _chart(workshop, ("sizing", name), lambda: charts.sizing(curves, name, SIZING_REPLICATIONS))
    st.dataframe(sizing_shown(sizing_table(curves)), hide_index=True, width="stretch")


def _history(workshop: Workshop) -> None:
    year = headline_year(workshop.run_base().result.run_summary)
    st.subheader("What-ifs tried")
    st.caption(
        f"Every what-if of this session against the same baseline runs, named by the settings it changes, then in "
        f"words; financial year {year}: mean difference and its 95% confidence interval. Charts, the report and "
        f"workbooks keep the last {KEPT_RUNS}."
    )
    st.table(pd.DataFrame([_history_row(what_if, workshop, year) for what_if in workshop.history]).set_index("what-if"))


def _history_row(what_if: WhatIf, workshop: Workshop, year: str) -> dict[str, str]:
    """One what-if: its name, the settings it changes, the levers in words, and each headline's difference."""
    rows = what_if.differences
    rows = rows[(rows["financial_year"] == year) & (rows["category"] == "all")]
    words = what_if.description.removeprefix(f"{workshop.baseline.scenario.name} with ")
    row = {"what-if": what_if.name, "changes": what_if.changes or words, "in words": words}
    for measure, label, _ in HEADLINES:
        found = rows[rows["measure"] == measure]
        if len(found):
            low, mean, high = (float(found.iloc[0][c]) for c in ("ci95_low", "difference", "ci95_high"))
            money = is_money(measure)
            shown = f"{headline(mean, money, sign=True)} ({headline(low, money)} to {headline(high, money)})"
            row[f"{label}: difference (95% CI)"] = shown
    return row


def _downloads(workshop: Workshop) -> None:
    st.subheader("Downloads")
    names = [w.name for w in workshop.history]
    # A new key per what-if, so the newest is offered first after each run.
    chosen = st.selectbox("What-if", names, index=len(names) - 1, key=f"download_what_if_{len(names)}")
    what_if = workshop.history[names.index(chosen)]
    report, workbook, scenario = st.columns(3)
    report.download_button(
        "Report (HTML)",
        data=workshop.report_html,
        file_name="workshop_report.html",
        mime="text/html",
        on_click="ignore",
        key="download_report",
    )
    if what_if.result is not None and what_if.result.scenario.prices is not None:
        workbook.download_button(
            "Budget workbook (xlsx)",
            data=lambda: budget_workbook(what_if.result),
            file_name=f"{chosen}_budget.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            on_click="ignore",
            key="download_budget",
        )
    scenario.download_button(
        "Scenario file (TOML)",
        data=what_if.toml_text,
        file_name=f"{workshop.baseline.scenario.name}_{chosen}.toml",
        mime="application/toml",
        on_click="ignore",
        key="download_toml",
    )


TABS = {  # tab title: how to draw it
    "Differences": _differences_tab,
    "Children in care": _children_tab,
    "In-house places": lambda workshop: _baseline_and_latest(workshop, "occupancy", charts.occupancy),
    "Sufficiency gap": _gap_tab,
    "Spend": lambda workshop: _baseline_and_latest(workshop, "spend", charts.spend_by_pool),
    "Capacity sizing": _sizing_tab,
}

main()
