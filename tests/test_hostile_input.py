"""Hostile input: files and options a careless user or an attacker might give, each refused safely.

Every case runs the real command in a process of its own (forked from one that has imported it,
tests/cli_process.py) under an address-space limit and a time limit, and must:
exit 2 with one line on stderr that starts `error: ` and names the file (or option) and the key; print no
traceback; write nothing. The limits are what make the case hostile: before the bounds, a 204 KB dotted key
took 23 GB, and `inf` in a rate or a start year of 9999 ended in a traceback.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import cli_process

HERE = Path(__file__).parent
VALID = (HERE / "bad_scenarios" / "valid_base.toml").resolve()
PRICED = (HERE / "bad_scenarios" / "priced_base.toml").resolve()
ROOT = HERE.parent
MEMORY_LIMIT = 1024**3  # 1 GiB of address space beyond the imported product: a valid two-replication run needs less
TIME_LIMIT = 60  # seconds; each case is refused at validation, in one or two


@dataclass(frozen=True)
class Case:
    files: dict[str, str | bytes]  # written into the case's folder; "s.toml" is the scenario unless args say
    fragments: tuple[str, ...]  # the message must contain each
    args: tuple[str, ...] = ("run", "s.toml")
    options: tuple[str, ...] = field(default=("--replications", "2", "--quiet"))
    out: str = "out"  # the run's --out, inside the case's folder


def _over(text: str, base: Path = VALID) -> dict[str, str | bytes]:
    """A scenario extending a valid one with a few keys changed."""
    return {"s.toml": f'extends = "{base.as_posix()}"\n{text}'}


def _journey(band: str, duration: str) -> str:
    return f"[journeys.{band}]\nduration.return_home = {{ {duration} }}\n"


def _chain(length: int) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {f"c{i}.toml": f'extends = "c{i + 1}.toml"\n' for i in range(length)}
    files[f"c{length}.toml"] = f'extends = "{VALID.as_posix()}"\n'
    files["s.toml"] = 'extends = "c0.toml"\n'
    return files


CASES: dict[str, Case] = {
    # TOML bombs: bounded before parsing
    "dotted_key_100k_parts": Case({"s.toml": "a" + ".a" * 100_000 + " = 1\n"}, ("s.toml", "line 1", "dotted key")),
    "table_header_500_parts": Case({"s.toml": "[" + ".".join(["t"] * 500) + "]\n"}, ("s.toml", "dotted key")),
    "nested_arrays_100k": Case({"s.toml": "a = " + "[" * 100_000 + "]" * 100_000 + "\n"}, ("s.toml", "nested")),
    "nested_inline_tables_50k": Case({"s.toml": "a = " + "{b = " * 50_000 + "1" + "}" * 50_000}, ("s.toml", "nested")),
    "file_of_3_mb": Case({"s.toml": "# padding\n" * 300_000 + 'name = "x"\n'}, ("s.toml", "bytes is over the limit")),
    "extends_chain_25": Case(_chain(25), ("extends", "more than 20 files")),
    "extends_chain_1500": Case(_chain(1_500), ("extends", "more than 20 files")),
    "extends_itself": Case({"s.toml": 'extends = "s.toml"\n'}, ("s.toml: extends", "loop")),
    "empty_file": Case({"s.toml": ""}, ("s.toml", "holds no keys")),
    "not_utf8": Case({"s.toml": b'name = "\xff\xfe"\n'}, ("s.toml", "expected UTF-8")),
    "nul_bytes": Case({"s.toml": "name = 'a'\x00\n"}, ("s.toml", "not valid TOML")),
    "scenario_is_a_folder": Case({"s.toml/inner.txt": "x"}, ("s.toml", "is not a file")),
    "extends_a_binary_file": Case(
        {"s.toml": 'extends = "blob.bin"\n', "blob.bin": bytes(range(256)) * 4}, ("blob.bin",)
    ),
    # numbers that are not finite, or far beyond any authority
    "rate_inf": Case(_over("[entries]\nrate_per_year = { 5-9 = inf }\n"), ("entries.rate_per_year.5-9", "finite")),
    "rate_nan": Case(_over("[entries]\nrate_per_year = { 5-9 = nan }\n"), ("entries.rate_per_year.5-9", "finite")),
    "rate_1e12": Case(_over("[entries]\nrate_per_year = { 5-9 = 1e12 }\n"), ("entries.rate_per_year.5-9", "100000")),
    "rate_negative": Case(_over("[entries]\nrate_per_year = { 5-9 = -1 }\n"), ("rate_per_year.5-9", "(got -1)")),
    "trend_inf": Case(_over("[entries]\ntrend_percent_per_year = inf\n"), ("entries.trend_percent_per_year", "finite")),
    "trend_1000": Case(_over("[entries]\ntrend_percent_per_year = 1000\n"), ("trend_percent_per_year", "100")),
    "expected_children_too_many": Case(
        _over(
            "[horizon]\nyears = 50\n[entries]\ntrend_percent_per_year = 50\n"
            "rate_per_year = { under1 = 90000, 1-4 = 90000, 5-9 = 90000, 10-15 = 90000, 16-17 = 90000 }\n"
        ),
        ("s.toml: entries:", "children would enter", "expected at most 5,000,000"),
    ),
    "seasonality_huge": Case(
        _over("[entries]\nseasonality = [1e6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"), ("entries.seasonality[0]", "12")
    ),
    "approvals_inf": Case(
        _over("[pools.inhouse.fostering]\napprovals_per_year = inf\n"),
        ("pools.inhouse.fostering.approvals_per_year", "finite"),
    ),
    "households_1e9": Case(
        _over("[pools.inhouse.fostering]\nhouseholds = 1000000000\n"), ("pools.inhouse.fostering.households", "100000")
    ),
    "duration_mean_inf": Case(
        _over(_journey("5-9", 'distribution = "exponential", mean = inf')),
        ("journeys.5-9.duration.return_home.mean", "finite"),
    ),
    "duration_mean_1e300": Case(
        _over(_journey("5-9", 'distribution = "exponential", mean = 1e300')),
        ("journeys.5-9.duration.return_home.mean", "36525"),
    ),
    "duration_mean_tiny": Case(
        _over(_journey("5-9", 'distribution = "exponential", mean = 1e-300')),
        ("journeys.5-9.duration.return_home.mean", "0.01"),
    ),
    "gamma_sd_huge": Case(
        _over(_journey("5-9", 'distribution = "gamma", mean = 10, sd = 30000')),
        ("journeys.5-9.duration.return_home", "at most 100 times the mean"),
    ),
    "weibull_shape_tiny": Case(
        _over(_journey("5-9", 'distribution = "weibull", shape = 1e-300, scale = 300')),
        ("journeys.5-9.duration.return_home.shape", "0.05"),
    ),
    "capacity_1e9": Case(_over("[pools.homes]\ncapacity = 1000000000\n"), ("pools.homes.capacity", "200000")),
    "capacity_change_closes_too_many": Case(
        _over("[pools.homes]\ncapacity_changes = [ { date = 2021-04-01, change = -20 } ]\n"),
        ("pools.homes.capacity_changes[0].change", "leave -18 places"),
    ),
    "start_year_9999": Case(_over("[horizon]\nstart = 9999-04-01\n"), ("horizon.start", "2100")),
    "start_a_datetime": Case(_over("[horizon]\nstart = 2020-04-01T07:30:00\n"), ("horizon.start", "valid date")),
    "start_a_string": Case(_over('[horizon]\nstart = "2020-04-01"\n'), ("horizon.start", "valid date")),
    "seed_negative_in_file": Case(_over("seed = -1\n"), ("s.toml: seed", "greater than or equal to 0")),
    "seed_too_big_in_file": Case(_over("seed = 99999999999999999999999\n"), ("s.toml: seed", "less than or equal to")),
    "infant_in_care_1e9_days": Case(
        _over(
            '[start_population]\ngroups = [ { age_band = "under1", need = "fostering", pool = "ifa", count = 1, '
            "days_in_care = 1e9 } ]\n"
        ),
        ("start_population.groups[0].days_in_care", "6574.5"),
    ),
    # types are strict: nothing is coerced
    "years_true": Case(_over("[horizon]\nyears = true\n"), ("horizon.years", "valid integer")),
    "capacity_a_string": Case(_over('[pools.homes]\ncapacity = "10"\n'), ("pools.homes.capacity", "valid integer")),
    "capacity_a_float": Case(_over("[pools.homes]\ncapacity = 10.5\n"), ("pools.homes.capacity", "valid integer")),
    "in_house_no": Case(_over('[pools.homes]\nin_house = "no"\n'), ("pools.homes.in_house", "valid boolean")),
    "probability_a_string": Case(_over('[step_back]\nprobability = "1"\n'), ("step_back.probability", "valid number")),
    # text: bounded, and pool names that cannot become a formula or a path
    "description_100k": Case(_over(f'description = "{"x" * 100_000}"\n'), ("s.toml: description", "5000")),
    "pool_named_a_formula": Case(
        _over('[pools."=HYPERLINK(\\"http://x\\")"]\nserves = ["fostering"]\ncapacity = 1\nin_house = true\n'),
        ("s.toml: pools", "expected a letter"),
    ),
    "empty_name": Case(_over('name = ""\n'), ("s.toml: name", "at least 1 character")),
    # prices
    "weekly_price_inf": Case(
        _over("[prices.pools.ifa]\nweekly = inf\n", PRICED), ("prices.pools.ifa.weekly", "finite")
    ),
    "weekly_price_1e300": Case(
        _over("[prices.pools.ifa]\nweekly = 1e300\n", PRICED), ("prices.pools.ifa.weekly", "1000000")
    ),
    "inflation_1e6": Case(
        _over("[prices]\ninflation_percent_per_year = 1e6\n", PRICED), ("prices.inflation_percent_per_year", "100")
    ),
    # options
    "option_seed_negative": Case(_over(""), ("--seed", "from 0"), options=("--seed", "-1", "--quiet")),
    "option_replications_zero": Case(_over(""), ("--replications", "from 1"), options=("--replications", "0")),
    "option_replications_huge": Case(_over(""), ("--replications", "100,000"), options=("--replications", "10**9")),
    "option_jobs_negative": Case(_over(""), ("--jobs", "or 0 for one per core"), options=("--jobs", "-1")),
    "option_unknown": Case(_over(""), ("unrecognized arguments: --replicatons",), options=("--replicatons", "2")),
    # the environment: where output goes, and where work runs
    "out_is_a_file": Case({**_over(""), "notes.txt": "mine"}, ("--out notes.txt", "is a file"), out="notes.txt"),
    "out_under_a_file": Case({**_over(""), "notes.txt": "mine"}, ("--out notes.txt/x", "is a file"), out="notes.txt/x"),
    "out_is_the_working_folder": Case(_over(""), ("--out .", "did not write"), out="."),
    "out_is_the_parent_folder": Case(_over(""), ("--out ..", "--out .."), out=".."),
    "dask_nothing_listening": Case(
        _over(""), ("--dask tcp://127.0.0.1:1", "no Dask scheduler answered"), options=("--dask", "tcp://127.0.0.1:1")
    ),
    "dask_malformed": Case(_over(""), ("--dask nowhere", "not a usable address"), options=("--dask", "nowhere")),
    "calibrate_out_is_a_folder": Case(
        {"folder/x.txt": "mine"},
        ("--out folder", "is a folder"),
        args=("calibrate", "--authority", "stockport", "--as-of", "2019-03-31"),
        options=("--out", "folder"),
    ),
    "calibrate_out_is_a_user_file": Case(
        {"mine.toml": 'name = "my own"\n'},
        ("--out mine.toml", "not written by `sufficiency calibrate`"),
        args=("calibrate", "--authority", "stockport", "--as-of", "2019-03-31"),
        options=("--out", "mine.toml"),
    ),
    "option_horizon_zero": Case(
        {},
        ("--horizon", "from 1"),
        args=("backtest", "--ssda903", "x", "--origin", "2020-01-01"),
        options=("--horizon", "0"),
    ),
    "option_bad_date": Case(
        {},
        ("--as-of", "YYYY-MM-DD"),
        args=("calibrate", "--authority", "stockport", "--as-of", "2019-02-30"),
        options=("--out", "x.toml"),
    ),
}


def _run_case(name: str, case: Case, folder: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    for relative, content in case.files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    command = [*case.args, *case.options]
    if case.args[0] == "run":
        command += ["--out", case.out]
    return cli_process.run(command, cwd=folder, memory=MEMORY_LIMIT, timeout=TIME_LIMIT)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """Every case, one after another (each stops at validation, in well under a second)."""
    base = tmp_path_factory.mktemp("hostile")
    return {name: (_run_case(name, case, base / name), base / name) for name, case in CASES.items()}


def test_at_least_forty_hostile_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", CASES)
def test_refused_with_one_line_and_nothing_written(name: str, outcomes: dict) -> None:
    result, folder = outcomes[name]
    print(result.stderr)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, "one fault, one line"
    for fragment in CASES[name].fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"
    written = {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
    expected = set(CASES[name].files) | {Path(f).parent.as_posix() for f in CASES[name].files} - {"."}
    assert written <= expected, f"wrote {sorted(written - expected)}"
