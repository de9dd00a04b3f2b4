"""The model as it was before decision 0003: each child a SimPy process. Kept for `sufficiency bench`.

The bench times it beside `sim.model.CareSystem` in the same run, to show what running journeys as
timeout callbacks gained and what it did to the model-overhead ratio (processes add cheap start and
end events, which flatter a cost-per-event ratio). Only the placement logic's driver differs: both
give identical records. Scenarios with a finite supply of adopters are not covered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import simpy

from sim.model import ADOPTION, AGE_18, AGE_18_DAYS, PLACED_FOR_ADOPTION, CareSystem
from sim.scenario import Scenario


class ProcessJourneys(CareSystem):
    """CareSystem with a SimPy process per child (and per wait after leaving care)."""

    def __init__(self, scenario: Scenario, seed: int, replication: int):
        if scenario.adoption.adopter_approvals_per_year != "unlimited":
            raise ValueError("journeys as processes are kept for scenarios with unlimited adopters only")
        super().__init__(scenario, seed, replication)

    def _start_journeys(self, starting: list[int]) -> None:
        for child in starting:
            self.env.process(self._journey(child, already_placed=True))
        self.env.process(self._arrivals())

    def _arrivals(self) -> Iterator[simpy.Event]:
        env = self.env
        for child in self.arriving:
            yield env.timeout(self.entry_day[child] - env.now)
            env.process(self._journey(child, already_placed=False))

    def _journey(self, child: int, already_placed: bool) -> Iterator[simpy.Event]:
        env = self.env
        last = self.n_segments[child] - 1
        for segment in range(last + 1):
            if segment > 0 or not already_placed:
                self._place(child, self.segment_need(child, segment))
            yield env.timeout(self.segment_end(child, segment) - env.now)
            if segment < last:
                self._close(child)
        route = self.route[child]
        if route == ADOPTION and self.segment_need(child, 0) != PLACED_FOR_ADOPTION:
            self._close(child)
            self._place(child, PLACED_FOR_ADOPTION)
            birthday_18 = self.birth_day[child] + AGE_18_DAYS
            yield env.timeout(min(self.cohort.order_days[child], birthday_18 - env.now))
            route = ADOPTION if env.now < birthday_18 else AGE_18
        self._leave_care(child, route)

    def _after(self, delay: float, callback: Callable[[simpy.Event], None], child: int) -> None:
        """Staying Put and Staying Close ended, as before, by a process of their own."""
        self.env.process(self._wait_then_call(delay, callback, child))

    def _wait_then_call(self, delay: float, callback: Callable[[simpy.Event], None], child: int):
        timeout = self.env.timeout(delay, child)
        yield timeout
        callback(timeout)
