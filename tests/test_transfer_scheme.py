"""The National Transfer Scheme (entries.uasc.national_transfer_scheme), checked on constructed threshold crossings.

With no child ever leaving care in the horizon, the rule can be replayed by hand from the arrival days alone: in
order of arrival, an asylum-seeking child enters while fewer than the threshold are in care, and otherwise a
spontaneous arrival is transferred out and an offered child is not taken. Before the scheme's date every
spontaneous arrival enters and no offer is taken.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.engine.model import simulate_replication
from sim.engine.scenario_files import ScenarioError
from sim.engine.vocabulary import AGE_BANDS
from sim.results.runner import run
from sim.results.stability import _in_care_at
from tests.builders import build, one_pool_scenario

NEVER_LEAVE = {"distribution": "fixed", "days": 4000.0}  # longer than the horizon: the 5-9s stay in care


def scheme_scenario(threshold_children: int, from_date: dt.date, offers: float = 6.0, uasc_rate: float = 6.0):
    raw = one_pool_scenario(rate_per_year=5.0, capacity="unlimited", years=3, stay=NEVER_LEAVE)
    raw["entries"]["uasc"] = {
        "rate_per_year": uasc_rate,
        "age_mix": {"5-9": 1.0},
        "national_transfer_scheme": {
            "child_population": threshold_children * 1000,  # x 0.1%
            "from_date": from_date,
            "offers_per_year": offers,
            "note": "assumption: a constructed case",
        },
    }
    return build(raw)


def replay(record, scheme_day: float, threshold: int) -> tuple[list[int], list[int], list[int]]:
    """(children who enter, transferred out, offers not taken), by the rule, from the arrival days."""
    cohort = record.cohort
    uasc = np.flatnonzero(cohort.uasc & ~cohort.starting)
    entered, out, declined, in_care = [], [], [], 0
    for child in uasc[np.argsort(cohort.entry_day[uasc], kind="stable")].tolist():
        applies = cohort.entry_day[child] >= scheme_day
        offered = bool(cohort.offered[child])
        if (applies and in_care >= threshold) or (offered and not applies):
            (declined if offered else out).append(child)
        else:
            entered.append(child)
            in_care += 1
    return entered, out, declined


@pytest.mark.parametrize("from_date", [dt.date(2020, 4, 1), dt.date(2021, 10, 1)])
def test_the_threshold_is_reached_then_arrivals_are_transferred_out_and_offers_stop(from_date):
    scenario = scheme_scenario(threshold_children=8, from_date=from_date)
    scheme_day = float((from_date - scenario.horizon.start).days)
    crossed = 0
    for replication in range(6):
        record = simulate_replication(scenario, seed=3, replication=replication)
        entered, out, declined = replay(record, scheme_day, threshold=8)
        absent = np.flatnonzero(record.cohort.absent).tolist()
        assert sorted(absent) == sorted(out + declined)
        transfers = record.transfers
        assert sorted(transfers[transfers[:, 2] < 0, 1].astype(int).tolist()) == sorted(out)
        taken_in = [c for c in entered if record.cohort.offered[c]]
        assert sorted(transfers[transfers[:, 2] > 0, 1].astype(int).tolist()) == sorted(taken_in)
        end = float(scenario.horizon.days)
        uasc_in_care = _in_care_at(record, end) & record.cohort.uasc
        assert int(uasc_in_care.sum()) == len(entered)  # absent children are in no count
        assert not np.isin(record.placements[:, 0].astype(int), absent).any()
        if from_date == scenario.horizon.start:
            assert len(entered) <= 8
        crossed += len(out) > 0
    assert crossed >= 3  # the constructed rates cross the threshold in most replications


def test_without_the_scheme_every_arrival_enters_and_no_one_is_offered():
    raw = one_pool_scenario(rate_per_year=5.0, capacity="unlimited", years=3, stay=NEVER_LEAVE)
    raw["entries"]["uasc"] = {"rate_per_year": 6.0, "age_mix": {"5-9": 1.0}}
    record = simulate_replication(build(raw), seed=3, replication=0)
    assert not record.cohort.offered.any() and not record.cohort.absent.any()
    assert record.transfers.shape == (0, 3)


def test_children_in_care_at_the_start_count_towards_the_threshold():
    raw = one_pool_scenario(rate_per_year=0.0, capacity="unlimited", years=1, stay=NEVER_LEAVE)
    raw["start_population"] = {
        "groups": [{"age_band": "16-17", "need": "fostering", "pool": "inhouse", "count": 5, "days_in_care": 100}],
        "uasc": 4,
    }
    raw["journeys"]["16-17"]["duration"] = {"return_home": NEVER_LEAVE}
    raw["entries"]["uasc"] = {
        "rate_per_year": 20.0,
        "age_mix": {"16-17": 1.0},
        "national_transfer_scheme": {
            "child_population": 4000,
            "from_date": dt.date(2020, 4, 1),
            "note": "assumption: a constructed case",
        },
    }
    record = simulate_replication(build(raw), seed=1, replication=0)
    cohort = record.cohort
    assert int((cohort.uasc & cohort.starting).sum()) == 4
    arrivals = cohort.uasc & ~cohort.starting
    # 4 starting UASC reach the threshold of 4 until the first of them turns 18 and leaves care
    first_leaves = float(np.nanmin(record.exit_day[cohort.uasc & cohort.starting]))
    before = arrivals & (cohort.entry_day < first_leaves)
    assert before.any() and cohort.absent[before].all()


def test_more_asylum_seeking_children_at_the_start_than_16_and_17_year_olds_is_refused():
    raw = one_pool_scenario(years=1)
    raw["start_population"] = {
        "groups": [{"age_band": "16-17", "need": "fostering", "pool": "external", "count": 2, "days_in_care": 100}],
        "uasc": 3,
    }
    with pytest.raises(ScenarioError, match=r"start_population\.uasc: 3 asylum-seeking children, but only 2"):
        build(raw)


def test_the_scheme_needs_its_source_and_a_population():
    raw = one_pool_scenario(years=1)
    raw["entries"]["uasc"] = {
        "rate_per_year": 1.0,
        "age_mix": {band: 1.0 if band == "16-17" else 0.0 for band in AGE_BANDS},
        "national_transfer_scheme": {"child_population": 0, "from_date": dt.date(2022, 2, 1)},
    }
    with pytest.raises(ScenarioError, match="child_population"):
        build(raw)


def test_conservation_holds_with_the_scheme():
    """Children kept out by the scheme are in no flow and no stock: entries - exits = the change in the stock."""
    scenario = scheme_scenario(threshold_children=5, from_date=dt.date(2021, 4, 1))
    result = run(scenario, replications=4, seed=9)
    flows = result.tables["flows"]
    assert (flows["starting"] + flows["entries"] - flows["exits"] == flows["in_care_at_end"]).all()
    stock = result.tables["stock"]
    end = stock[stock["date"] == stock["date"].max()].groupby("replication")["children"].sum()
    assert (end.to_numpy() == flows["in_care_at_end"].to_numpy()).all()
    entries = result.tables["entries"].groupby("replication")["children"].sum()
    assert (entries.to_numpy() == flows["entries"].to_numpy()).all()
    absent = sum(int(record.cohort.absent.sum()) for record in simulate_records(scenario, 4, 9))
    assert absent > 0  # the scheme kept some out


def simulate_records(scenario, replications: int, seed: int):
    return [simulate_replication(scenario, seed=seed, replication=r) for r in range(replications)]


def test_the_transfers_by_financial_year_count_the_records():
    scenario = scheme_scenario(threshold_children=5, from_date=dt.date(2021, 4, 1))
    result = run(scenario, replications=3, seed=9)
    table = result.tables["uasc_transfers"]
    years = result.run_summary.calendar.financial_years
    for record in simulate_records(scenario, 3, 9):
        mine = table[table["replication"] == record.replication]
        for direction, sign in (("in", 1), ("out", -1)):
            days = record.transfers[record.transfers[:, 2] == sign, 0]
            expected = {
                label: int(np.sum((days >= start) & (days < end)))
                for label, start, end in zip(years.labels, years.starts, years.ends, strict=True)
            }
            found = mine[mine["direction"] == direction].set_index("financial_year")["children"].to_dict()
            assert found == {k: v for k, v in expected.items() if v}, direction
    rows = result.run_summary.children_by_year
    out = rows[rows["row"] == "uasc_transferred_out"]
    assert out["mean"].sum() == pytest.approx(table.loc[table["direction"] == "out", "children"].sum() / 3)
    assert out["mean"].sum() > 0
