"""Progressive answers (issue 20 item 2): partial results on the first replications, then the whole run.

A partial answer is each scenario's result on its first n replications, n at a batch's end, at least 50 and
then at least twice the last; it must be exactly what the finished run gives for those replications, the run
it comes from must end as it would without it, and a partial answer that raises (a lever changed in the app)
stops the run and its workers.
"""

from __future__ import annotations

import itertools
import multiprocessing

import pandas as pd
import pytest

from sim.analysis.compare import compare
from sim.results.runner import FIRST_PARTIAL, RunResult, run, run_many
from sim.results.tables import TABLES
from tests.builders import build, one_pool_scenario

REPLICATIONS = 160


def _pair():
    base = build(one_pool_scenario(rate_per_year=20.0, capacity=4, years=3))
    return base, build(one_pool_scenario(rate_per_year=20.0, capacity=6, years=3), name="more places")


def _first(result: RunResult, count: int) -> dict[str, pd.DataFrame]:
    return {name: t[t["replication"] < count].reset_index(drop=True) for name, t in result.tables.items()}


@pytest.mark.parametrize("jobs", [1, 2])
def test_partial_answers_are_the_finished_run_on_its_first_replications(jobs: int) -> None:
    scenarios = list(_pair())
    answers: list[list[RunResult]] = []
    final = run_many(scenarios, REPLICATIONS, jobs=jobs, partial=answers.append)
    counts = [answer[0].replications for answer in answers]
    assert counts and counts[0] >= FIRST_PARTIAL and counts == sorted(set(counts)) and counts[-1] < REPLICATIONS
    assert len(counts) >= 2 and all(later >= 2 * earlier for earlier, later in itertools.pairwise(counts))
    for answer in answers:
        assert [r.replications for r in answer] == [answer[0].replications] * len(scenarios)
        for partial, whole in zip(answer, final, strict=True):
            assert set(partial.tables["flows"]["replication"]) == set(range(partial.replications))
            expected = _first(whole, partial.replications)
            for name in TABLES:
                pd.testing.assert_frame_equal(partial.tables[name], expected[name], check_exact=True, obj=name)
    plain = run_many(scenarios, REPLICATIONS, jobs=jobs)
    for a, b in zip(final, plain, strict=True):
        for name in TABLES:
            pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True, obj=name)


def test_a_short_run_has_no_partial_answer() -> None:
    answers: list[RunResult] = []
    run(_pair()[0], FIRST_PARTIAL, partial=answers.append)
    assert answers == []


class Changed(BaseException):
    """What Streamlit raises in a running page when a widget changes (its RerunException is a BaseException)."""


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_partial_answer_that_raises_stops_the_run_and_leaves_no_worker(jobs: int) -> None:
    def changed(_: object) -> None:
        raise Changed

    with pytest.raises(Changed):
        run_many(list(_pair()), REPLICATIONS * 4, jobs=jobs, partial=changed)
    assert multiprocessing.active_children() == []


def test_a_comparison_gives_its_first_replications_answer_first() -> None:
    base, what_if = _pair()
    answers = []
    final = compare(base, [what_if], REPLICATIONS, partial=answers.append)
    assert answers and answers[0].base.replications >= FIRST_PARTIAL
    first = answers[0]
    count = first.base.replications
    alone = compare(base, [what_if], count)
    pd.testing.assert_frame_equal(first.differences, alone.differences, check_exact=True)
    assert first.summaries == alone.summaries
    assert final.base.replications == REPLICATIONS
