"""The <table>_summary.parquet files (issue 19, item 5: "Total rows, and dense (zero-filled) tables"): every
period of the horizon for every combination the run has, zero where no replication has a child, and `all` rows
whose bands are those of the per-replication totals. Checked against a table small enough to sum by hand, and
against a pandas recomputation of every summary of a real run."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sim.present.outputs import write_tables
from sim.results.runner import RunResult, run
from sim.results.summary import SUMMARY_KEYS
from sim.results.tables import TOTAL, dense_table_summary
from tests.builders import build, rich_scenario

REPLICATIONS = 4
PERIODS = list(pd.to_datetime(["2020-04-01", "2020-05-01", "2020-06-01"]))


def _hand_table() -> pd.DataFrame:
    """Three replications: fostering on 1 April in all, residential only in replication 2, nothing in June."""
    return pd.DataFrame(
        {
            "replication": [0, 1, 2, 2, 0],
            "date": pd.to_datetime(["2020-04-01"] * 4 + ["2020-05-01"]),
            "need": ["fostering", "fostering", "fostering", "residential", "fostering"],
            "uasc": [False, False, True, False, False],
            "children": [3, 5, 1, 2, 4],
        }
    )


def _row(summary: pd.DataFrame, date: str, need: str, uasc: str) -> pd.Series:
    match = summary[(summary["date"] == pd.Timestamp(date)) & (summary["need"] == need) & (summary["uasc"] == uasc)]
    assert len(match) == 1, (date, need, uasc)
    return match.iloc[0]


def test_a_hand_made_table_is_summed_by_hand() -> None:
    summary = dense_table_summary(_hand_table(), "date", PERIODS, ["need", "uasc"], "children", 3)
    # combinations that occur (fostering/false, fostering/true, residential/false), and their totals
    combos = {
        ("fostering", "false"), ("fostering", "true"), ("residential", "false"),
        ("fostering", TOTAL), ("residential", TOTAL), (TOTAL, "false"), (TOTAL, "true"), (TOTAL, TOTAL),
    }  # fmt: skip
    assert len(summary) == len(PERIODS) * len(combos)
    for date in PERIODS:
        assert set(map(tuple, summary[summary["date"] == date][["need", "uasc"]].to_numpy())) == combos
    # 1 April: fostering, not UASC, is 3, 5, 0 in replications 0, 1, 2
    april = _row(summary, "2020-04-01", "fostering", "false")
    assert april["mean"] == pytest.approx(8 / 3) and april["p50"] == 3
    assert april["p10"] == pytest.approx(np.percentile([3, 5, 0], 10))
    # the grand total is 3, 5, 3 (1 + 2 in replication 2): the band of the totals, not a sum of bands
    total = _row(summary, "2020-04-01", TOTAL, TOTAL)
    assert total["mean"] == pytest.approx(11 / 3) and total["p50"] == 3
    assert total["p90"] == pytest.approx(np.percentile([3, 5, 3], 90))
    half_width = 4.302652729911275 * np.std([3, 5, 3], ddof=1) / np.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert total["ci95_high"] == pytest.approx(11 / 3 + half_width)
    # UASC or not, over all needs on 1 April: 3, 5, 2 not UASC
    assert _row(summary, "2020-04-01", TOTAL, "false")["mean"] == pytest.approx(10 / 3)
    # June has no child in any replication: every row is there, and zero
    june = summary[summary["date"] == PERIODS[2]]
    assert len(june) == len(combos) and (june[["mean", "p10", "p50", "p90"]] == 0).all().all()


def test_a_period_outside_the_horizon_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="outside the horizon"):
        dense_table_summary(_hand_table(), "date", PERIODS[1:], ["need"], "children", 3)


@pytest.fixture(scope="module")
def rich() -> RunResult:
    return run(build(rich_scenario(years=3)), REPLICATIONS, seed=3)


def _as_text(column: pd.Series) -> pd.Series:
    return column.map({True: "true", False: "false"}) if column.dtype == bool else column.astype(str)


@pytest.mark.parametrize("table", sorted(SUMMARY_KEYS))
def test_every_row_is_the_per_replication_sum_recomputed_with_pandas(rich: RunResult, table: str) -> None:
    frame = rich.tables[table]
    summary = rich.run_summary.table_summary(table)
    if frame.empty:
        assert summary is None
        return
    (period, *keys), value = SUMMARY_KEYS[table]
    frame = frame.assign(**{key: _as_text(frame[key]) for key in keys})
    periods = sorted(summary[period].unique())
    observed = frame[keys].drop_duplicates()
    # dense: every period x every total pattern of every combination that occurs
    expected = set()
    for combo in map(tuple, observed.to_numpy()):
        for mask in itertools.product((False, True), repeat=len(keys)):
            expected.add(tuple(TOTAL if m else label for m, label in zip(mask, combo, strict=True)))
    assert len(summary) == len(periods) * len(expected)
    assert set(map(tuple, summary[keys].drop_duplicates().to_numpy())) == expected
    # each row, total or not, recomputed: the replication's sum over the rows it covers, zero if none
    for row in summary.sample(n=min(len(summary), 60), random_state=1).itertuples(index=False):
        row = row._asdict()
        chosen = frame[period] == row[period]
        for key in keys:
            if row[key] != TOTAL:
                chosen &= frame[key] == row[key]
        sums = frame[chosen].groupby("replication")[value].sum().reindex(range(REPLICATIONS), fill_value=0)
        assert row["mean"] == pytest.approx(sums.mean(), abs=1e-9), (table, row)
        assert row["p50"] == pytest.approx(np.percentile(sums, 50), abs=1e-9), (table, row)


def test_the_files_written_are_the_summaries(rich: RunResult, tmp_path) -> None:
    write_tables(rich, tmp_path)
    for table in SUMMARY_KEYS:
        summary = rich.run_summary.table_summary(table)
        path = tmp_path / f"{table}_summary.parquet"
        assert path.is_file() == (summary is not None), table
        if summary is not None:
            written = pd.read_parquet(path)
            pd.testing.assert_frame_equal(written, summary, check_dtype=False)
