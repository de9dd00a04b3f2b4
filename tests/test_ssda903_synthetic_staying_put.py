"""The synthetic writer codes Staying Put leavers as the DfE does: REC E17, "aged 18 and remained with current
carers (inc. Staying Put)", exactly for the young people the simulation kept with their carers."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from calibration.ssda903.reader import read_ssda903
from calibration.ssda903.synthetic import write_synthetic_ssda903
from sim.engine.model import PLACEMENT_COLUMNS, STAYING_PUT, simulate_replication
from tests.builders import build, rich_scenario

SEED = 11


def test_staying_put_leavers_end_e17_and_no_one_else_does(tmp_path: Path) -> None:
    raw = rich_scenario(years=6)
    raw.pop("start_population")
    scenario = build(raw)  # Staying Put with probability 0.5 from the in-house and agency foster pools
    summary = write_synthetic_ssda903(scenario, tmp_path / "returns", seed=SEED)
    rows = [row for year in summary.years for row in _rows(tmp_path / "returns" / f"{year}-episodes.csv")]
    written = {row["CHILD"] for row in rows if row["REC"] == "E17"}

    record = simulate_replication(scenario, SEED, 0)
    kind, child = PLACEMENT_COLUMNS.index("kind"), PLACEMENT_COLUMNS.index("child")
    stayed = np.unique(record.placements[record.placements[:, kind] == STAYING_PUT, child]).astype(int)
    last_day = (dt.date(summary.years[-1], 3, 31) - scenario.horizon.start).days
    expected = int(np.count_nonzero(np.floor(record.exit_day[stayed]) <= last_day))
    assert len(written) == expected > 5
    eighteen = [row for row in rows if row["REC"] in ("E17", "E8")]
    assert len({row["CHILD"] for row in eighteen}) > len(written)  # others leave at 18 without staying

    history = read_ssda903(tmp_path / "returns")  # the calibration's Staying Put share: E17 among 18th birthdays
    at_18 = history.periods.loc[history.periods["exit_route"] == "age_18", "period"]
    last = history.episodes.drop_duplicates("period", keep="last").set_index("period").loc[at_18, "rec"]
    assert 0.1 < float((last == "E17").mean()) < 0.9  # 0 before E17 was written


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
