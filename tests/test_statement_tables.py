"""The sufficiency-statement tables (issue 19, items 3 and 5): children in care on 31 March by need x age band x
sex, and the gap by kind x age band, dense and with total rows. Each is recomputed here another way (from the
engine's records, from the `stock` table, from the gap ledger) with pandas; the sex draw is checked to come
from the child's own row of uniforms and to leave every other record alone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.engine.demand import COL_SEX, WIDTH
from sim.engine.model import IN_CARE, PlacementColumn, simulate_replication
from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import load_scenario
from sim.engine.streams import stream
from sim.engine.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR, GAP_KINDS, PLACEMENT_NEEDS, SEXES
from sim.present.outputs import write_run
from sim.results.runner import RunResult, run
from sim.results.summary import STATEMENT_GAP_UNITS, STATEMENT_YEARS, STATISTIC_COLUMNS, RunSummary
from sim.results.tables import TOTAL, dense_summary
from tests.builders import build, one_pool_scenario, rich_scenario

SEED = 5
REPLICATIONS = 6
PRICED = Path(__file__).parent / "bad_scenarios" / "priced_base.toml"
KEYS = ["need", "age_band", "sex"]
LABELS = {"need": [*PLACEMENT_NEEDS, TOTAL], "age_band": [*AGE_BANDS, TOTAL], "sex": [*SEXES, TOTAL]}
KIND_LABELS = [*GAP_KINDS, "all_not_sufficient", "all_right_kind", TOTAL]


@pytest.fixture(scope="module")
def rich() -> RunResult:
    return run(build(rich_scenario(years=6)), REPLICATIONS, seed=SEED)


# ---------------------------------------------------------------------------------------------
# The statement, recomputed


def _hand_counts(result: RunResult) -> pd.DataFrame:
    """Per replication, 31 March and need x band x sex: children in care, from the records of each replication
    simulated again (placement rows open at 00:00 on 1 April, the child's age that day and its `male` flag)."""
    scenario = result.scenario
    statement = result.run_summary.statement
    dates = sorted(set(statement["date"]))
    uppers = np.array([upper for _, upper in AGE_BAND_BOUNDS_YEARS])
    rows = []
    for replication in range(result.replications):
        record = simulate_replication(scenario, SEED, replication)
        p = record.placements
        p = p[p[:, PlacementColumn.KIND] == IN_CARE]
        for march in dates:
            day = float((march.date() + dt.timedelta(days=1) - scenario.horizon.start).days)
            open_on = p[(p[:, PlacementColumn.START] <= day) & (day < p[:, PlacementColumn.END])]
            child = open_on[:, PlacementColumn.CHILD].astype(int)
            age = (day - record.cohort.birth_day[child]) / DAYS_PER_YEAR
            frame = pd.DataFrame(
                {
                    "date": march,
                    "need": np.array(PLACEMENT_NEEDS)[open_on[:, PlacementColumn.NEED].astype(int)],
                    "age_band": np.array(AGE_BANDS)[np.minimum((age[:, None] >= uppers).sum(axis=1), 4)],
                    "sex": np.where(record.cohort.male[child], "male", "female"),
                }
            )
            rows.append(frame.assign(replication=replication))
    return pd.concat(rows, ignore_index=True)


def _cube(children: pd.DataFrame, dates: list[pd.Timestamp], replications: int) -> pd.DataFrame:
    """(replication, date, need, band, sex) counts over every label and TOTAL, zeros included: the totals by
    brute force, each combination of kept keys counted again."""
    parts = []
    for kept in itertools.product([True, False], repeat=3):
        keys = [key for key, keep in zip(KEYS, kept, strict=True) if keep]
        counts = children.groupby(["replication", "date", *keys]).size().rename("children").reset_index()
        parts.append(counts.assign(**{key: TOTAL for key, keep in zip(KEYS, kept, strict=True) if not keep}))
    counted = pd.concat(parts, ignore_index=True).set_index(["replication", "date", *KEYS])["children"]
    every = pd.MultiIndex.from_product([range(replications), dates, *LABELS.values()], names=counted.index.names)
    return counted.reindex(every, fill_value=0).reset_index()


def test_the_statement_is_the_hand_count_of_the_records(rich: RunResult) -> None:
    statement = rich.run_summary.statement
    dates = sorted(set(statement["date"]))
    cube = _cube(_hand_counts(rich), dates, rich.replications)
    wide = cube.pivot_table(index=["date", *KEYS], columns="replication", values="children", aggfunc="sum")
    ours = statement.set_index(["date", *KEYS]).loc[wide.index]
    values = wide.to_numpy(dtype=float)
    assert ours["mean"].to_numpy() == pytest.approx(values.mean(axis=1))
    for q in (10, 50, 90):
        assert ours[f"p{q}"].to_numpy() == pytest.approx(np.percentile(values, q, axis=1))
    half = ours["ci95_high"].to_numpy() - ours["mean"].to_numpy()
    sd = values.std(axis=1, ddof=1)
    assert half == pytest.approx(2.570582 * sd / np.sqrt(REPLICATIONS), rel=1e-5)  # t(0.975, 5)


def test_the_statement_for_both_sexes_is_the_stock_table(rich: RunResult) -> None:
    """The `stock` table (another code path, no sex) gives the same need x band figures for `sex = all`."""
    statement = rich.run_summary.statement
    stock = rich.tables["stock"]
    for march in sorted(set(statement["date"])):
        at = stock[stock["date"] == march + pd.Timedelta(days=1)]
        per = at.groupby(["replication", "need", "age_band"], observed=True)["children"].sum()
        per = per.unstack("replication").reindex(columns=range(REPLICATIONS), fill_value=0).fillna(0)
        mine = statement[(statement["date"] == march) & (statement["sex"] == TOTAL)].set_index(["need", "age_band"])
        for (need, band), counts in per.iterrows():
            assert mine.loc[(need, band), "mean"] == pytest.approx(counts.mean())
            assert mine.loc[(need, band), "p90"] == pytest.approx(np.percentile(counts, 90))


def test_the_grand_total_is_the_children_in_care_on_31_march(rich: RunResult) -> None:
    run_summary = rich.run_summary
    statement = run_summary.statement
    grand = statement[(statement[KEYS] == TOTAL).all(axis=1)].set_index("financial_year")
    by_year = run_summary.children_by_year
    in_care = by_year[by_year["row"] == "children_in_care"].set_index("financial_year")
    assert grand["mean"].to_numpy() == pytest.approx(in_care.loc[grand.index, "mean"].to_numpy())
    assert (grand["date"] == in_care.loc[grand.index, "date"]).all()


# ---------------------------------------------------------------------------------------------
# Dense, with totals, in a fixed order


def test_the_statement_has_every_combination_of_the_next_five_whole_years_in_order(rich: RunResult) -> None:
    run_summary = rich.run_summary
    statement = run_summary.statement
    whole = [year for year, part in run_summary.part_years.items() if not part]
    assert list(dict.fromkeys(statement["financial_year"])) == whole[:STATEMENT_YEARS]
    assert not statement["part_year"].any()
    cells = len(PLACEMENT_NEEDS) + 1, len(AGE_BANDS) + 1, len(SEXES) + 1
    assert len(statement) == np.prod(cells) * STATEMENT_YEARS
    expected = list(itertools.product(whole[:STATEMENT_YEARS], *LABELS.values()))
    assert list(statement[["financial_year", *KEYS]].itertuples(index=False, name=None)) == expected
    assert (statement["date"].dt.strftime("%m-%d") == "03-31").all()
    secure = statement[statement["need"] == "secure"]  # the rich scenario never needs secure care
    assert len(secure) == (len(AGE_BANDS) + 1) * (len(SEXES) + 1) * STATEMENT_YEARS
    assert (secure[STATISTIC_COLUMNS] == 0).all().all()


def test_totals_are_summed_per_replication_before_the_statistics(rich: RunResult) -> None:
    """Means add up over parts; a total's P50 is the median of per-replication totals (not a sum of medians)."""
    statement = rich.run_summary.statement.set_index(["financial_year", *KEYS])
    for key in KEYS:
        parts = statement[statement.index.get_level_values(key) != TOTAL]
        others = [name for name in ["financial_year", *KEYS] if name != key]
        summed = parts.groupby(others)["mean"].sum()
        totals = statement[statement.index.get_level_values(key) == TOTAL].droplevel(key)["mean"]
        assert totals.loc[summed.index].to_numpy() == pytest.approx(summed.to_numpy())
    table = rich.tables["stock_31_march"]
    first = rich.run_summary.statement["date"].iloc[0] + pd.Timedelta(days=1)
    males = table[(table["date"] == first) & (table["sex"] == "male")].groupby("replication")["children"].sum()
    year = rich.run_summary.statement["financial_year"].iloc[0]
    assert statement.loc[(year, TOTAL, TOTAL, "male"), "p50"] == pytest.approx(np.median(males.to_numpy()))


def test_a_cell_with_a_child_in_one_replication_of_ten_has_a_median_of_zero() -> None:
    frame = pd.DataFrame(
        {"replication": [3, 3, 4], "financial_year": "2020-21", "kind": ["a", "b", "b"], "children": [1.0, 2.0, 5.0]}
    )
    summary = dense_summary(frame, "children", ["2020-21", "2021-22"], {"kind": ["a", "b", "c"]}, 10)
    assert list(summary["kind"]) == ["a", "b", "c", TOTAL] * 2
    cell = summary.iloc[0]
    assert (cell["mean"], cell["p50"], cell["p90"]) == (pytest.approx(0.1), 0.0, pytest.approx(0.1))
    total = summary.iloc[3]
    assert total["mean"] == pytest.approx(0.8) and total["p90"] == pytest.approx(np.percentile([0] * 8 + [3, 5], 90))
    assert (summary.iloc[4:][STATISTIC_COLUMNS] == 0).all().all()  # 2021-22: no child, its rows still there


def test_a_label_outside_the_vocabulary_is_refused() -> None:
    frame = pd.DataFrame({"replication": [0], "financial_year": "2020-21", "kind": ["typo"], "children": [1.0]})
    with pytest.raises(ValueError, match="typo"):
        dense_summary(frame, "children", ["2020-21"], {"kind": ["a"]}, 1)


# ---------------------------------------------------------------------------------------------
# The gap by kind and age band


def test_the_gap_table_is_the_ledger_summed_by_hand(rich: RunResult) -> None:
    run_summary: RunSummary = rich.run_summary
    gaps = run_summary.statement_gaps
    years = run_summary.calendar.financial_years.labels
    assert len(gaps) == len(years) * len(KIND_LABELS) * (len(AGE_BANDS) + 1) * len(STATEMENT_GAP_UNITS)
    assert list(dict.fromkeys(gaps["kind"])) == KIND_LABELS
    ledger = rich.tables["gap_ledger"]
    month = pd.to_datetime(ledger["month"])
    year = (month.dt.year - (month.dt.month < 4)).map(lambda y: f"{y}-{(y + 1) % 100:02d}")
    ledger = ledger.assign(
        financial_year=year, kind=ledger["kind"].astype(str), age_band=ledger["age_band"].astype(str)
    )
    not_sufficient = ledger[~ledger["sufficient"].astype(bool)].assign(kind="all_not_sufficient")
    right_kind = ledger[ledger["sufficient"].astype(bool)].assign(kind="all_right_kind")
    with_groups = pd.concat([ledger, not_sufficient, right_kind, ledger.assign(kind=TOTAL)], ignore_index=True)
    every = pd.concat([with_groups, with_groups.assign(age_band=TOTAL)], ignore_index=True)
    per = every.groupby(["financial_year", "kind", "age_band", "replication"])["child_days"].sum()
    per = per.unstack("replication").reindex(columns=range(REPLICATIONS), fill_value=0).fillna(0)
    days = gaps[gaps["unit"] == "child_days"].set_index(["financial_year", "kind", "age_band"])
    assert days.loc[per.index, "mean"].to_numpy() == pytest.approx(per.mean(axis=1).to_numpy())
    assert days.loc[per.index, "p90"].to_numpy() == pytest.approx(np.percentile(per.to_numpy(), 90, axis=1))
    missing = days.index.difference(per.index)
    assert len(missing) and (days.loc[missing, STATISTIC_COLUMNS] == 0).all().all()  # zero-filled, not left out
    fy = run_summary.calendar.financial_years
    in_horizon = dict(zip(fy.labels, fy.ends - fy.starts, strict=True))
    at_a_time = gaps[gaps["unit"] == "children_at_a_time"].set_index(["financial_year", "kind", "age_band"])
    scale = days.index.get_level_values("financial_year").map(in_horizon).to_numpy(dtype=float)
    assert at_a_time.loc[days.index, "p50"].to_numpy() == pytest.approx(days["p50"].to_numpy() / scale)
    flags = gaps.drop_duplicates("financial_year").set_index("financial_year")["part_year"]
    assert flags.to_dict() == run_summary.part_years


# ---------------------------------------------------------------------------------------------
# Sex: drawn with male_share from the child's own row, changing nothing else


def test_the_male_share_is_recovered_in_every_age_band() -> None:
    scenario = build(rich_scenario(years=3), entries__male_share=0.8)
    result = run(scenario, 30, seed=SEED)
    statement = result.run_summary.statement
    first = statement[(statement["date"] == statement["date"].min()) & (statement["need"] == TOTAL)]
    means = first.set_index(["age_band", "sex"])["mean"]
    for band in [*AGE_BANDS, TOTAL]:
        children = means[(band, TOTAL)] * 30
        if children < 100:
            continue
        share = means[(band, "male")] / means[(band, TOTAL)]
        assert share == pytest.approx(0.8, abs=4 * np.sqrt(0.16 / children)), band
    assert means[(TOTAL, "male")] / means[(TOTAL, TOTAL)] > 0.75  # against the 0.56 of the rich scenario


def test_the_sex_comes_from_the_childs_own_row_and_changes_no_other_record() -> None:
    raw = rich_scenario(years=3)
    low, high = build(raw, entries__male_share=0.2), build(raw, entries__male_share=0.7)
    for replication in range(2):
        a, b = simulate_replication(low, SEED, replication), simulate_replication(high, SEED, replication)
        for field in dataclasses.fields(a):
            if field.name != "cohort":
                assert np.array_equal(getattr(a, field.name), getattr(b, field.name), equal_nan=True), field.name
        for field in dataclasses.fields(a.cohort):
            if field.name != "male":
                assert np.array_equal(getattr(a.cohort, field.name), getattr(b.cohort, field.name), equal_nan=True)
        assert a.cohort.male.mean() < b.cohort.male.mean()
        for scenario, record in ((low, a), (high, b)):
            _check_sex_from_own_row(scenario, record, replication)


def _check_sex_from_own_row(scenario, record, replication: int) -> None:
    """Starting children first, then the main stream's entrants in order of entry: their `male` flag is their
    own row's COL_SEX uniform (from their part's named stream) below male_share."""
    cohort, share = record.cohort, scenario.entries.male_share
    generator = stream(SEED, replication, "start_population")
    for group in scenario.start_population.groups:
        generator.random(group.count)  # the ages, drawn before the rows
    starting = np.flatnonzero(cohort.starting)
    rows = generator.random((len(starting), WIDTH))
    assert np.array_equal(cohort.male[starting], rows[:, COL_SEX] < share)
    main = np.flatnonzero(~cohort.starting & ~cohort.staying_put_at_start & ~cohort.uasc)
    rows = stream(SEED, replication, "demand").random((len(main), WIDTH))
    assert np.array_equal(cohort.male[main], rows[:, COL_SEX] < share)


def test_a_male_share_by_age_band_and_the_uasc_share_are_recovered() -> None:
    """10-15 entrants 80% male, every other band 30%, UASC 95%: each recovered among the entrants of its band, and
    on 31 March among the children aged 10-15 (no child enters younger, so each entered aged 10-15)."""
    shares = dict.fromkeys(AGE_BANDS, 0.3) | {"10-15": 0.8}
    raw = one_pool_scenario(rate_per_year=300.0, mean_days=200.0, years=3, band="10-15")
    raw["entries"] |= {"male_share": shares, "uasc": {"rate_per_year": 100.0, "male_share": 0.95}}
    scenario = build(raw)
    cohorts = [simulate_replication(scenario, SEED, r).cohort for r in range(4)]
    main = np.concatenate([c.male[~c.uasc] for c in cohorts])
    uasc = np.concatenate([c.male[c.uasc] for c in cohorts])
    assert main.mean() == pytest.approx(0.8, abs=4 * np.sqrt(0.16 / len(main)))
    assert uasc.mean() == pytest.approx(0.95, abs=4 * np.sqrt(0.95 * 0.05 / len(uasc)))
    statement = run(scenario, 10, seed=SEED).run_summary.statement
    first = statement[(statement["date"] == statement["date"].min()) & (statement["need"] == TOTAL)]
    means = first.set_index(["age_band", "sex"])["mean"]
    children = means[("10-15", TOTAL)] * 10
    assert means[("10-15", "male")] / means[("10-15", TOTAL)] == pytest.approx(0.8, abs=4 * np.sqrt(0.16 / children))


def test_the_default_male_shares_are_stockports_by_age_band_and_a_table_needs_every_band() -> None:
    raw = one_pool_scenario()
    entries = build(raw).entries
    assert entries.male_shares(uasc=False) == (0.5309, 0.5309, 0.5309, 0.5606, 0.6418)
    assert entries.male_shares(uasc=True) == (0.9,) * len(AGE_BANDS)
    raw["entries"]["male_share"] = {"10-15": 0.8}
    with pytest.raises(ScenarioError, match="missing under1, 1-4, 5-9, 16-17"):
        build(raw)


# ---------------------------------------------------------------------------------------------
# The files


def test_the_workbook_sheets_hold_the_tables_as_they_are(tmp_path: Path) -> None:
    result = run(load_scenario(PRICED), 3)
    write_run(result, tmp_path / "run")
    workbook = load_workbook(tmp_path / "run" / "budget.xlsx", read_only=True)
    for sheet, table in (
        ("Sufficiency statement", result.run_summary.statement),
        ("Sufficiency gaps", result.run_summary.statement_gaps),
    ):
        cells = list(workbook[sheet].iter_rows(values_only=True))
        assert list(cells[0]) == list(table.columns) and len(cells) == len(table) + 1
        for row, line in zip(cells[1:], table.itertuples(index=False), strict=True):
            for value, expected in zip(row, line, strict=True):
                if isinstance(expected, pd.Timestamp):
                    assert value == expected.to_pydatetime()  # a date cell (openpyxl reads it back as a datetime)
                elif isinstance(expected, float | np.floating) and not isinstance(expected, bool):
                    assert value == pytest.approx(float(expected)), (sheet, line)
                else:
                    assert value == expected


def test_the_csv_files_hold_the_tables_to_three_decimals(tmp_path: Path) -> None:
    result = run(build(rich_scenario(years=6)), 2, seed=SEED)
    write_run(result, tmp_path / "run")
    for name, table in (
        ("statement.csv", result.run_summary.statement),
        ("statement_gaps.csv", result.run_summary.statement_gaps),
    ):
        written = pd.read_csv(tmp_path / "run" / name, keep_default_na=False)
        assert list(written.columns) == list(table.columns) and len(written) == len(table)
        for column in STATISTIC_COLUMNS:
            assert written[column].to_numpy() == pytest.approx(table[column].to_numpy(), abs=5e-4)
        keys = [c for c in table.columns if c not in STATISTIC_COLUMNS and c != "date"]
        assert (written[keys].astype(str).to_numpy() == table[keys].astype(str).to_numpy()).all()
