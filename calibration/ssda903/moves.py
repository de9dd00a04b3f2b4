"""Moves between placement needs: hazards from SSDA903 need segments, mapped onto the scenario's `Move`s.

Estimation (`estimate_moves`), from the reference period only:

- a need segment is a run of consecutive episodes of one period of care in the same placement need; it ends
  by a move when another need follows in the same period;
- time at risk: every segment open at any time in the reference period, left-truncated at its start and
  right-censored at its end (or the segment's own end, or the 18th birthday), cut at the 1st, 5th, 10th and
  16th birthdays into the model's age bands: the band is the child's age at the time, not at entry;
- left out: placed_for_adoption as either need, and every segment of a period on the adoption route (ended by
  an adoption or placed for adoption by the reference end): the model gives those children no moves (they
  wait in adoption.first_need until placed with adopters), so their days would dilute the hazards;
- birthday moves: moves within BIRTHDAY_WINDOW_DAYS after a 16th or 17th birthday, when there are at least
  MIN_EVENTS and far more than the band's hazard gives over those days (Poisson upper tail below
  CLUSTER_P); their probability is the share of the segments in the from-need on the birthday (started
  before it) that moved in the window, and those moves and days leave the pair's hazard;
- hazards: moves per year at risk by from-need, to-need and band, with exact Poisson 95% intervals, shrunk
  towards the pair's all-band hazard by empirical Bayes (a gamma prior fitted by moments, Marshall 1991,
  Biometrics 47:479): a band with few moves borrows from the other bands in proportion to how little it
  knows, instead of being dropped. Supported accommodation (16+) has no hazard below 16 (AGE_GATED).

Mapping onto the journey of one band at entry (`journey_moves`). The model picks at most one move per segment
(probabilities of the moves from a need share one uniform, so they sum to at most 1), times it from the
segment's start (`after_days`) or at an age (`at_age`, only if that birthday falls after the segment's start),
and makes it only if it comes before the exit, whose time is drawn independently at entry. So, per from-need:

- each birthday move is `at_age` = its birthday, `probability` = its share (journeys entering before it);
- a move into an age-gated need for a journey entering below the gate age becomes `at_age` = gate + tau,
  the mean wait for the move after the gate birthday given it happens before 18, with hazard h competing with
  the other ways out of the need (rate nu) over the T = 2 years to 18: the chance of moving is
  P = h / (h + nu) (1 - exp(-(h + nu) T)), divided by the chance exp(-nu_care tau) of still being in care at
  the move's age (nu_care: leaving care from that need) and times the share not gone at an earlier birthday
  move;
- the other moves are constant hazards from the segment's start: each journey's hazard of a pair is the
  band hazards averaged over the days the journey's entrants spent at risk in each band (so the expected
  number of moves on that exposure is kept). With hazards h_i (total H) and Q the probability held by the
  `at_age` moves, `after_days` is exponential with mean (1 - Q) / H and probability_i = h_i x mean; the
  latent move time is then the exponential with hazard H and the destination i with probability h_i / H,
  exactly the competing hazards, when Q = 0. With Q > 0 the hazard starts at H and falls as the children
  drawn for an `at_age` move (who never move by hazard) make up more of those left: an approximation that
  is close while H x stay is small. The mean is capped at the schema's 100 years (the probabilities then
  scale down with it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from calibration.ssda903.estimate import Reference, with_children
from calibration.ssda903.reader import CareHistory
from sim.engine.schema import MAX_DAYS
from sim.engine.vocabulary import AGE_BAND_BOUNDS_YEARS, AGE_BANDS, DAYS_PER_YEAR, LEAVING_CARE_AGE_YEARS

BIRTHDAY_AGES = (16, 17)
BIRTHDAY_WINDOW_DAYS = 28
CLUSTER_P = 1e-3
MIN_EVENTS = 5  # fewer moves in a band: reported as pooled (its hazard leans on the other bands)
AGE_GATED = {"supported_16plus": 16}  # nobody moves into this need before this age
NOT_MOVES = ("placed_for_adoption",)  # the adoption route, not a planned move
BAND_BIRTHDAYS = tuple(int(low) for low, _ in AGE_BAND_BOUNDS_YEARS[1:])  # 1, 5, 10, 16


@dataclass(frozen=True)
class BandHazard:
    band: str
    moves: int
    years_at_risk: float
    low: float  # exact Poisson 95% interval of moves / years at risk
    high: float
    rate: float  # per year, after shrinkage (0 below an age gate)
    weight: float  # of the band's own moves in `rate`: 1 its own (or the 0 below an age gate), 0 the all-band hazard

    @property
    def raw(self) -> float:
        return self.moves / self.years_at_risk if self.years_at_risk > 0 else 0.0

    @property
    def pooled(self) -> bool:
        return self.moves < MIN_EVENTS and self.weight < 1.0


@dataclass(frozen=True)
class PairHazard:
    from_need: str
    to_need: str
    bands: dict[str, BandHazard]
    all_bands: float  # moves per year at risk, all bands together (the shrinkage target)

    @property
    def moves(self) -> int:
        return sum(b.moves for b in self.bands.values())


@dataclass(frozen=True)
class BirthdayMove:
    from_need: str
    to_need: str
    age: int
    moved: int
    at_risk: int
    low: float  # Clopper-Pearson 95% interval of the probability
    high: float
    window_years: float  # at risk in the windows after the birthday, taken out of the pair's hazard

    @property
    def probability(self) -> float:
        return self.moved / self.at_risk


@dataclass
class MoveEstimate:
    hazards: dict[tuple[str, str], PairHazard]
    birthdays: list[BirthdayMove]
    exposure: pd.DataFrame  # years at risk: index (entry_band, need), a column per band
    leaving: pd.DataFrame  # per year at risk, by (need, band): "care" (period ends), "any" (need ends)
    need_changes: int  # moves between needs in the reference period (before leaving out the adoption route)


# ---------------------------------------------------------------------------------------------
# Estimation


def estimate_moves(history: CareHistory, reference: Reference) -> MoveEstimate:
    segments = _segments(history, reference)
    changes = int(segments["moved"].sum())
    segments = segments[~segments["adoption"] & ~segments["need"].isin(NOT_MOVES)]
    days = _days_by_band(segments)
    birthdays, taken = _birthday_moves(segments, days, reference)
    segments = segments.assign(moved=segments["moved"] & ~taken)
    exposure = days.groupby([segments["entry_band"], segments["need"]]).sum() / DAYS_PER_YEAR
    need_years = exposure.groupby(level="need").sum()
    hazards = {}
    for (from_need, to_need), moves in segments[segments["moved"]].groupby(["need", "next_need"]):
        counts = moves["event_band"].value_counts()
        years = need_years.loc[from_need] - _window_years(birthdays, from_need, to_need)
        hazards[(from_need, to_need)] = _pair(from_need, to_need, counts, years)
    return MoveEstimate(hazards, birthdays, exposure, _leaving(segments, need_years), changes)


def _segments(history: CareHistory, reference: Reference) -> pd.DataFrame:
    """Need segments overlapping the reference period, with what was known at its end: the next need, whether
    the segment ended by a move (inside the period), the child's birthdays, the band at the segment's end."""
    episodes = history.episodes[history.episodes["start"] < reference.end].sort_values(["period", "start"])
    frame = episodes[["period", "start", "need"]].assign(end=episodes["end"].where(episodes["end"] <= reference.end))
    new = (frame["period"] != frame["period"].shift()) | (frame["need"] != frame["need"].shift())
    frame["segment"] = new.cumsum()
    first = frame.drop_duplicates("segment", keep="first").set_index("segment")
    last = frame.drop_duplicates("segment", keep="last").set_index("segment")
    segments = first[["period", "need", "start"]].assign(end=last["end"])
    same_period = segments["period"].shift(-1) == segments["period"]
    segments["next_need"] = segments["need"].shift(-1).where(same_period & segments["end"].notna())
    periods = with_children(history).merge(history.children[["child", "dob"]], on="child", how="left")
    periods = periods.set_index("period")
    segments = segments.join(periods[["dob", "entry_band", "exit_route", "end"]].add_prefix("period_"), on="period")
    adopted = segments["period_exit_route"].eq("adoption") & (segments["period_end"] <= reference.end)
    placed = segments.loc[segments["need"].isin(NOT_MOVES), "period"]
    segments["adoption"] = adopted | segments["period"].isin(placed)
    segments["ends_care"] = ~same_period & segments["period_exit_route"].ne("") & segments["end"].notna()
    dob = segments["period_dob"]
    for age in sorted({*BAND_BIRTHDAYS, *BIRTHDAY_AGES, int(LEAVING_CARE_AGE_YEARS)}):
        segments[f"birthday_{age}"] = dob + pd.DateOffset(years=age)
    segments["risk_start"] = segments["start"].clip(lower=reference.start)
    censor = segments["end"].fillna(reference.end).clip(upper=reference.end)
    segments["risk_end"] = censor.where(censor < segments["birthday_18"], segments["birthday_18"])
    inside = reference.holds(segments["end"]) & (segments["end"] <= segments["birthday_18"])
    segments["moved"] = segments["next_need"].notna() & (segments["next_need"] != segments["need"]) & inside
    segments["ends_care"] &= inside
    segments["event_band"] = _band_at(segments, segments["end"])
    segments = segments.rename(columns={"period_entry_band": "entry_band"})
    return segments[segments["risk_end"] > segments["risk_start"]]


def _band_at(segments: pd.DataFrame, when: pd.Series) -> pd.Series:
    """The model's age band on a date, by calendar birthdays (as the days at risk are cut)."""
    index = sum((when >= segments[f"birthday_{age}"]).astype(int) for age in BAND_BIRTHDAYS)
    return pd.Series(np.asarray(AGE_BANDS)[index], index=segments.index)


def _days_by_band(segments: pd.DataFrame) -> pd.DataFrame:
    """Days at risk of each segment in each band (a column per band), cut at the bands' birthdays."""
    start, end = segments["risk_start"], segments["risk_end"]
    edges = [start, *(segments[f"birthday_{age}"].clip(lower=start, upper=end) for age in BAND_BIRTHDAYS), end]
    columns = {
        band: (high - low).dt.days.astype(float)
        for band, low, high in zip(AGE_BANDS, edges[:-1], edges[1:], strict=True)
    }
    return pd.DataFrame(columns, index=segments.index)


def _birthday_moves(
    segments: pd.DataFrame, days: pd.DataFrame, reference: Reference
) -> tuple[list[BirthdayMove], pd.Series]:
    """Moves clustered just after a 16th or 17th birthday, and which moves they take from the hazards."""
    found, taken = [], pd.Series(False, index=segments.index)
    window = pd.Timedelta(days=BIRTHDAY_WINDOW_DAYS)
    for age in BIRTHDAY_AGES:
        birthday = segments[f"birthday_{age}"]
        observed = (birthday >= reference.start) & (birthday + window <= reference.end)
        at_risk = observed & (segments["start"] < birthday) & (segments["end"].isna() | (segments["end"] >= birthday))
        in_window = at_risk & segments["moved"] & (segments["end"] < birthday + window)
        window_days = (segments["end"].fillna(birthday + window).clip(upper=birthday + window) - birthday).dt.days
        band = AGE_BANDS[sum(age >= b for b in BAND_BIRTHDAYS)]
        for (from_need, to_need), moves in segments[in_window].groupby(["need", "next_need"]):
            risk = at_risk & (segments["need"] == from_need)
            pair = segments["moved"] & (segments["need"] == from_need) & (segments["next_need"] == to_need)
            outside_moves = int((pair & (segments["event_band"] == band)).sum()) - len(moves)
            outside_days = days.loc[segments["need"] == from_need, band].sum() - window_days[risk].sum()
            expected = outside_moves / max(outside_days, 1.0) * window_days[risk].sum()
            if len(moves) >= MIN_EVENTS and stats.poisson.sf(len(moves) - 1, expected) < CLUSTER_P:
                low, high = _binomial_interval(len(moves), int(risk.sum()))
                years = window_days[risk].sum() / DAYS_PER_YEAR
                found.append(BirthdayMove(from_need, to_need, age, len(moves), int(risk.sum()), low, high, years))
                taken |= in_window & pair
    return found, taken


def _window_years(birthdays: list[BirthdayMove], from_need: str, to_need: str) -> pd.Series:
    """Years at risk a pair's birthday moves took out of its hazard, by band."""
    years = pd.Series(0.0, index=list(AGE_BANDS))
    for move in birthdays:
        if (move.from_need, move.to_need) == (from_need, to_need):
            years[AGE_BANDS[sum(move.age >= b for b in BAND_BIRTHDAYS)]] += move.window_years
    return years


def _pair(from_need: str, to_need: str, counts: pd.Series, years: pd.Series) -> PairHazard:
    """Band hazards of one pair, shrunk towards the all-band hazard over the bands it may happen in.

    Marshall's moment estimates: the all-band rate m, the spread s2 of the band rates about it weighted by
    years at risk, and the prior variance t2 = max(0, s2 - m / mean years); a band's own rate then weighs
    t2 / (t2 + m / its years) against m.
    """
    gate = AGE_GATED.get(to_need, 0)
    allowed = [b for b, (low, _) in zip(AGE_BANDS, AGE_BAND_BOUNDS_YEARS, strict=True) if low >= gate]
    moves = counts.reindex(list(AGE_BANDS), fill_value=0).astype(int)
    at_risk = years.reindex(list(AGE_BANDS), fill_value=0.0).clip(lower=0.0)
    total_years = at_risk[allowed].sum()
    mean = moves[allowed].sum() / total_years if total_years > 0 else 0.0
    rates = (moves / at_risk.where(at_risk > 0)).fillna(0.0)
    spread = (at_risk[allowed] * (rates[allowed] - mean) ** 2).sum() / total_years if total_years > 0 else 0.0
    prior = max(0.0, spread - mean * len(allowed) / total_years) if total_years > 0 else 0.0
    bands = {}
    for band in AGE_BANDS:
        low, high = _poisson_interval(int(moves[band]), float(at_risk[band]))
        if band not in allowed:  # below the gate the rate is 0, whatever the band's own moves
            weight, rate = 1.0, 0.0
        else:
            weight = prior / (prior + mean / at_risk[band]) if at_risk[band] > 0 and prior + mean > 0 else 0.0
            rate = mean + weight * (rates[band] - mean)
        bands[band] = BandHazard(band, int(moves[band]), float(at_risk[band]), low, high, rate, weight)
    return PairHazard(from_need, to_need, bands, mean)


def _poisson_interval(events: int, years: float) -> tuple[float, float]:
    """Exact (Garwood) 95% interval of a rate from `events` in `years` at risk."""
    if years <= 0:
        return 0.0, math.inf
    low = stats.chi2.ppf(0.025, 2 * events) / (2 * years) if events else 0.0
    return float(low), float(stats.chi2.ppf(0.975, 2 * events + 2) / (2 * years))


def _binomial_interval(successes: int, trials: int) -> tuple[float, float]:
    """Clopper-Pearson 95% interval of a share."""
    low = stats.beta.ppf(0.025, successes, trials - successes + 1) if successes else 0.0
    high = stats.beta.ppf(0.975, successes + 1, trials - successes) if successes < trials else 1.0
    return float(low), float(high)


def _leaving(segments: pd.DataFrame, need_years: pd.DataFrame) -> pd.DataFrame:
    """Per year at risk by need and band: leaving care from the need, and leaving the need by any hazard way."""
    ends = segments[segments["ends_care"] | segments["moved"]]
    care = ends[ends["ends_care"]].groupby(["need", "event_band"]).size()
    any_way = ends.groupby(["need", "event_band"]).size()
    years = need_years.stack().rename_axis(["need", "event_band"])
    frame = pd.DataFrame({"care": care, "any": any_way}).reindex(years.index, fill_value=0)
    return frame.div(years.where(years > 0), axis=0).fillna(0.0)


# ---------------------------------------------------------------------------------------------
# Mapping onto a journey


def journey_moves(estimate: MoveEstimate, entry_band: str) -> list[tuple[dict, str]]:
    """The moves of the journey of children entering in `entry_band`, each with a comment saying where it
    comes from (see the module docstring for the mapping)."""
    needs = sorted({f for f, _ in estimate.hazards} | {m.from_need for m in estimate.birthdays})
    return [move for need in needs for move in _moves_from(estimate, entry_band, need)]


def _moves_from(estimate: MoveEstimate, entry_band: str, need: str) -> list[tuple[dict, str]]:
    entry_age = AGE_BAND_BOUNDS_YEARS[AGE_BANDS.index(entry_band)][0]
    birthdays = [m for m in estimate.birthdays if m.from_need == need and m.age > entry_age]
    timed = [
        ({"from_need": need, "to_need": m.to_need, "probability": m.probability, "at_age": float(m.age)}, _said(m))
        for m in birthdays
    ]
    pairs = [h for (f, _), h in sorted(estimate.hazards.items()) if f == need]
    gated = [h for h in pairs if AGE_GATED.get(h.to_need, 0) > entry_age]
    timed += [move for h in gated if (move := _gated_move(estimate, h, birthdays)) is not None]
    rates = {h.to_need: (_journey_rate(estimate, h, entry_band), h.moves) for h in pairs if h not in gated}
    timed = _fitted(timed)
    return timed + _hazard_moves(need, rates, sum(m["probability"] for m, _ in timed))


def _fitted(timed: list[tuple[dict, str]]) -> list[tuple[dict, str]]:
    """At-age moves with their probabilities rounded down, scaled to sum to at most 1."""
    total = sum(m["probability"] for m, _ in timed)
    scale = 1.0 / total if total > 1 else 1.0
    return [({**m, "probability": _floor(m["probability"] * scale)}, note) for m, note in timed if m["probability"] > 0]


def _hazard_moves(need: str, rates: dict[str, tuple[float, int]], held: float) -> list[tuple[dict, str]]:
    """Constant hazards (per year, with the moves behind them, by to-need) as exponential `after_days` sharing
    the probability `held` back by the at-age moves leaves."""
    total = sum(rate for rate, _ in rates.values()) / DAYS_PER_YEAR
    if total <= 0 or held >= 1:
        return []
    mean = min((1 - held) / total, MAX_DAYS)
    planned = []
    for to_need, (rate, count) in rates.items():
        probability = _floor(rate / DAYS_PER_YEAR * mean)
        if probability <= 0:
            continue
        move = {"from_need": need, "to_need": to_need, "probability": probability}
        note = (
            f"hazard {rate:.3g} a year (from {count} moves; bands weighted by this journey's days at risk), "
            f"exponential after_days with mean (1 - {held:.3g}) / total hazard"
        )
        planned.append(({**move, "after_days": {"distribution": "exponential", "mean": round(mean, 2)}}, note))
    return planned


def _journey_rate(estimate: MoveEstimate, pair: PairHazard, entry_band: str) -> float:
    """The pair's band hazards averaged over the days this journey's entrants spent at risk in each band (the
    journey's own band's hazard when they spent none)."""
    rates = pd.Series({band: h.rate for band, h in pair.bands.items()})
    key = (entry_band, pair.from_need)
    years = estimate.exposure.loc[key] if key in estimate.exposure.index else pd.Series(0.0, index=rates.index)
    if years.sum() <= 0:
        return float(rates[entry_band])
    return float((rates * years).sum() / years.sum())


def _gated_move(estimate: MoveEstimate, pair: PairHazard, birthdays: list[BirthdayMove]) -> tuple[dict, str] | None:
    """A hazard that starts at the gate age as one `at_age` move (see the module docstring)."""
    gate = AGE_GATED[pair.to_need]
    band = AGE_BANDS[sum(gate >= b for b in BAND_BIRTHDAYS)]
    hazard = pair.bands[band].rate
    if hazard <= 0:
        return None
    leaving = estimate.leaving.loc[(pair.from_need, band)] if (pair.from_need, band) in estimate.leaving.index else None
    others = max(float(leaving["any"]) - pair.bands[band].raw, 0.0) if leaving is not None else 0.0
    care = float(leaving["care"]) if leaving is not None else 0.0
    years = LEAVING_CARE_AGE_YEARS - gate
    out = hazard + others
    chance = hazard / out * -math.expm1(-out * years)
    wait = 1 / out - years / math.expm1(out * years) if out * years > 1e-9 else years / 2
    gone = sum(m.probability for m in birthdays if m.age <= gate + wait)
    probability = min(chance * (1 - gone) * math.exp(care * wait), 1.0)
    move = {"from_need": pair.from_need, "to_need": pair.to_need, "probability": probability}
    note = (
        f"hazard {hazard:.3g} a year from {gate} ({pair.bands[band].moves} moves), other ways out {others:.3g}, "
        f"leaving care {care:.3g} a year: moves by 18 {chance:.3g}, mean wait {wait:.2f} years"
    )
    return {**move, "at_age": round(gate + wait, 4)}, note


def _said(move: BirthdayMove) -> str:
    return (
        f"{move.moved} of {move.at_risk} in {move.from_need} on their {move.age}th birthday moved within "
        f"{BIRTHDAY_WINDOW_DAYS} days (95% interval {move.low:.3g} to {move.high:.3g})"
    )


def _floor(probability: float) -> float:
    """Rounded down to 6 decimals, so the probabilities from a need never sum above 1 once written."""
    return math.floor(probability * 1e6) / 1e6
