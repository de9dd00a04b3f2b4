"""Home-to-placement distance from SSDA903 postcodes: each pool's share of placement-days within 20 miles.

The returns give each placement's HOME_POST and PL_POST, not a distance. Given a postcode lookup (the ONS
Postcode Directory or the National Statistics Postcode Lookup, or any CSV with a postcode and its latitude and
longitude) the reader computes each placement's straight-line distance in memory and keeps only whether it is
within 20 miles; no postcode, and no distance tied to a child, leaves the reader. Twenty miles is the DfE's
distance measure, the one the scenario's `within_20_miles` pool key and the run's 31 March rows use
(national_england.md L62; Cheshire East's scorecard, cheshire_east_committee_2017.md L511, L903).

Each pool's share is weighted by placement-days in the reference period, so it is the share of the pool's
children placed within 20 miles on an average day: the stock measure the run reports, not a share of
placements started.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.fit import POOLS, PoolSpec
from calibration.ssda903.errors import SSDA903Error

WITHIN_MILES = 20.0
EARTH_RADIUS_MILES = 3958.8  # mean radius, 6371.0 km
MAX_LOOKUP_BYTES = 4_000_000_000  # the full National Statistics Postcode Lookup is about 1 GB as CSV
POSTCODE_COLUMNS = ("pcds", "pcd", "pcd7", "pcd8", "postcode")  # the ONS files' names, then a plain one
LATITUDE_COLUMNS = ("lat", "latitude")
LONGITUDE_COLUMNS = ("long", "longitude", "lon", "lng")
NO_GRID_REFERENCE = 99.999999  # the ONS files' latitude for a postcode with no location: unknown, not an error
MIN_PLACEMENTS = 10  # a pool with fewer placements of known distance keeps the scenario's default
# The parent-and-child pools of the shipped baselines (calibration/scenario_builder.py), from R3 placements.
PARENT_CHILD_POOLS = (
    PoolSpec("inhouse_parent_child", "parent_and_child", True, "in-house parent-and-child foster carers"),
    PoolSpec(
        "external_parent_child",
        "parent_and_child",
        False,
        "agency parent-and-child carers and residential family assessment centres",
    ),
)
# Emergency placements have no SSDA903 code; youth detention's distance is not the authority's (calibrate.py).
IN_REFERENCE_POOLS = (*(spec for spec in POOLS if spec.name != "emergency"), *PARENT_CHILD_POOLS)


@dataclass(frozen=True)
class PostcodeLookup:
    """Latitude and longitude (degrees) by postcode, upper case without spaces."""

    coordinates: pd.DataFrame  # index: postcode; columns lat, lon
    source: str  # the file's name, for messages
    unlocated: int  # postcodes in the file without a location (counted, not used)

    def within(self, home: pd.Series, placement: pd.Series) -> pd.Series:
        """1.0 where the placement is within 20 miles of home, 0.0 beyond, NaN where either is not located."""
        a, b = self._locate(home), self._locate(placement)
        miles = _great_circle_miles(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
        return pd.Series(np.where(np.isnan(miles), np.nan, miles <= WITHIN_MILES), index=home.index, dtype=float)

    def _locate(self, postcodes: pd.Series) -> np.ndarray:
        rows = self.coordinates.index.get_indexer(postcodes.to_numpy())
        found = self.coordinates.to_numpy()[np.where(rows >= 0, rows, 0)]
        found[rows < 0] = np.nan
        return found


def _great_circle_miles(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """The haversine distance: straight-line miles, as the DfE's distance measure is."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    half = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(np.clip(half, 0.0, 1.0)))


def read_postcode_lookup(path: Path | str) -> PostcodeLookup:
    """The lookup's postcodes and locations, checked: named columns, numbers, latitudes and longitudes in range,
    each postcode once. Errors name the file, the row and the column (the lookup is public, not child-level)."""
    path = Path(path)
    if not path.is_file():
        raise SSDA903Error(f"{path}: postcode lookup not found; expected a CSV file (the ONS Postcode Directory)")
    if path.stat().st_size > MAX_LOOKUP_BYTES:
        raise SSDA903Error(f"{path}: postcode lookup larger than {MAX_LOOKUP_BYTES // 10**9} GB")
    postcode, lat, lon = _columns(path)
    try:
        frame = pd.read_csv(path, usecols=[postcode, lat, lon], dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        raise SSDA903Error(f"{path}: not a readable CSV postcode lookup ({type(error).__name__})") from None
    codes = frame[postcode].str.upper().str.replace(" ", "", regex=False)
    latitude, longitude = _degrees(frame, lat, path), _degrees(frame, lon, path)
    located = codes.ne("") & latitude.notna() & longitude.notna() & latitude.ne(NO_GRID_REFERENCE)
    _check_ranges(latitude[located], longitude[located], path)
    coordinates = pd.DataFrame({"lat": latitude, "lon": longitude})[located].set_index(codes[located])
    repeated = coordinates.index.duplicated()
    if repeated.any():
        row = int(np.flatnonzero(located.to_numpy())[np.flatnonzero(repeated)[0]]) + 2
        raise SSDA903Error(f"{path}, row {row}, column {postcode}: a postcode given twice; expected each once")
    return PostcodeLookup(coordinates, path.name, int((~located).sum()))


def _columns(path: Path) -> tuple[str, str, str]:
    with path.open(encoding="utf-8", newline="") as file:
        header = next(csv.reader(file), [])
    by_name = {name.strip().lower(): name for name in header}

    def one_of(names: tuple[str, ...], what: str) -> str:
        for name in names:
            if name in by_name:
                return by_name[name]
        raise SSDA903Error(f"{path}: no {what} column; expected one named {' or '.join(names)}")

    return (
        one_of(POSTCODE_COLUMNS, "postcode"),
        one_of(LATITUDE_COLUMNS, "latitude"),
        one_of(LONGITUDE_COLUMNS, "longitude"),
    )


def _degrees(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A column of finite numbers, NaN where blank (a postcode without a location, counted); the first value
    that is neither is reported by row."""
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = (values.isna() & text.ne("")) | np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise SSDA903Error(f"{path}, row {row}, column {column}: expected a finite number of degrees")
    return values.astype(float)


def _check_ranges(latitude: pd.Series, longitude: pd.Series, path: Path) -> None:
    for values, column, limit in ((latitude, "latitude", 90.0), (longitude, "longitude", 180.0)):
        outside = values.abs() > limit
        if outside.any():
            row = int(values.index[outside.to_numpy()][0]) + 2
            raise SSDA903Error(f"{path}, row {row}: {column} outside -{limit:g} to {limit:g} degrees")


@dataclass(frozen=True)
class PoolDistance:
    """One pool's placements of known distance in the reference period."""

    share_within: float  # of placement-days, within 20 miles of home
    placements: int  # episodes with both postcodes located
    unknown: int  # episodes whose distance is unknown (a postcode blank or not in the lookup)


def pool_distances(episodes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, PoolDistance]:
    """Each pool's share of placement-days within 20 miles over [start, end), for the pools with at least one
    episode in it. `episodes` needs need, in_house, start, end and within_20_miles (NaN: unknown)."""
    days = (episodes["end"].fillna(end).clip(upper=end) - episodes["start"].clip(lower=start)).dt.days
    inside = episodes[days > 0].assign(days=days[days > 0])
    result = {}
    for spec in IN_REFERENCE_POOLS:
        rows = inside[_of_pool(inside, spec)]
        known = rows[rows["within_20_miles"].notna()]
        if rows.empty:
            continue
        weight = float(known["days"].sum())
        share = float((known["days"] * known["within_20_miles"]).sum() / weight) if weight else math.nan
        result[spec.name] = PoolDistance(share, len(known), len(rows) - len(known))
    return result


def _of_pool(episodes: pd.DataFrame, spec: PoolSpec) -> pd.Series:
    return episodes["need"].eq(spec.need) & episodes["in_house"].eq(spec.in_house)
