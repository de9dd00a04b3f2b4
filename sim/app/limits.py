"""How much work an app request asks for, estimated before anything runs and refused when it would not fit.

Why: the app may serve a room from a small machine (2 cores, 2 GB), and a 4 KB upload once asked for a 26 GiB
allocation. A run's cost grows with the children it simulates (the starting population and the entries
expected over the horizon, `Scenario.expected_children`) times its replications, so that product, in
child-replications, is checked against one limit before a run or a sizing curve starts; so is the one table
that grows with pools rather than children (occupancy: a row per pool, snapshot and replication). Foster
carers approved or leaving and adopters approved are events that expected_children does not count: each is
counted as a child (one costs about 10 us to simulate, against 14-22 us a child, measured on tests' rich
scenario with 120,000 carer changes a replication).

The limit comes from measuring the Cheshire East baseline as it was then (as of 2016-09-30, 2,495 children expected a
replication):
- many replications: the run's process peaked at 236 MB for 50 replications and 359 MB for 200, 329 bytes
  per child-replication, of which 167 bytes stay in the result tables the session holds;
- few, large replications: 2 replications of it scaled 150 times (374,000 children each, 750,000
  child-replications) on 2 workers peaked at 555 MB a worker, in 20 s.
750,000 child-replications a run is therefore at most about 250 MB at the peak of a run and 125 MB held per
run (the session holds the baseline and 3 what-ifs: 500 MB), or two 555 MB workers; with the process itself
(175 MB with the simulator loaded, before a run) that stays within 2 GB. Sizing runs one replication at a
time in the app's process, so its limit bounds time more than memory. Every shipped baseline at the page's
largest replication count (200) is within the limit: Cheshire East's (as of 2017-12-31: 3,227 children and 258 foster
carer changes expected a replication) is 697,000.
"""

from __future__ import annotations

from sim.analysis.sizing import finite_in_house_pools
from sim.engine.errors import InputError
from sim.engine.scenario import Scenario
from sim.results.tables import Calendar

MAX_REPLICATIONS = 200  # the page's largest replication count: a what-if must come back while the room waits
DEFAULT_REPLICATIONS = 50
KEPT_BASELINES = 4  # baselines a session keeps read (an uploaded starting-population CSV can hold 40,000 children)
WORK_LIMIT = 750_000  # child-replications in one run, or in one scenario's sizing curves
# Occupancy rows (pool x snapshot x replication) in one run: 42 bytes a row measured, so 126 MB; Cheshire
# East at 200 replications has 314,400.
OCCUPANCY_ROW_LIMIT = 3_000_000
CHANGE = "use fewer replications or a shorter horizon, or `sufficiency run` on the scenario file, which has no limit"


class WorkLimitError(InputError):
    """A request the app refuses before starting: it would take more memory or time than the server has."""


def check_run(label: str, scenario: Scenario, replications: int) -> None:
    """Refuse a run of `replications` whose estimated work is over the app's limits; `label` names it."""
    children, expected = per_replication(scenario)
    work = children * replications
    if work > WORK_LIMIT:
        raise WorkLimitError(
            f"{label}: about {work:,.0f} child-replications ({expected} expected in each of {replications} "
            f"replications) is over the app's limit of {WORK_LIMIT:,} a run; {CHANGE}"
        )
    pools, snapshots = len(scenario.pools), len(Calendar.for_scenario(scenario).snapshot_days)
    rows = pools * snapshots * replications
    if rows > OCCUPANCY_ROW_LIMIT:
        raise WorkLimitError(
            f"{label}: {rows:,} rows of pool occupancy ({pools} pools x {snapshots} monthly counts x "
            f"{replications} replications) is over the app's limit of {OCCUPANCY_ROW_LIMIT:,} a run; {CHANGE}"
        )


def check_sizing(label: str, scenario: Scenario, replications: int) -> None:
    """Refuse sizing curves whose work is over the limit: each finite in-house pool's curve is `replications`
    runs of the scenario with that pool unlimited (`sim.analysis.sizing.sizing_curve`), so the same children again."""
    (children, expected), pools = per_replication(scenario), len(finite_in_house_pools(scenario))
    work = children * replications * pools
    if work > WORK_LIMIT:
        raise WorkLimitError(
            f"{label}: about {work:,.0f} child-replications ({expected} expected a replication x "
            f"{replications} replications x {pools} in-house pools) is over the app's limit of {WORK_LIMIT:,}; "
            "use a shorter horizon, or size the pools with `sufficiency compare --sizing-replications`"
        )


def per_replication(scenario: Scenario) -> tuple[float, str]:
    """The work of one replication in children (carer and adopter changes counted as children), and in words."""
    children = scenario.expected_children()
    changes = scenario.horizon.years * _changes_per_year(scenario)
    if not changes:
        return children, f"{children:,.0f} children"
    return children + changes, f"{children:,.0f} children and {changes:,.0f} foster carer and adopter changes"


def _changes_per_year(scenario: Scenario) -> float:
    supply = [pool.fostering for pool in scenario.pools.values() if pool.fostering is not None]
    adopters = scenario.adoption.adopter_approvals_per_year
    carers = sum(f.approvals_per_year + f.deregistrations_per_year for f in supply)
    return carers + (0.0 if adopters == "unlimited" else adopters)
