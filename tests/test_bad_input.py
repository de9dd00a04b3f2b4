"""Bad input: every malformed scenario gives one clear message and the CLI exits 2 without writing anything.

Each file in tests/bad_scenarios/ breaks one thing, mostly by extending valid_base.toml. The message
must name the file, the key path and what was expected; no Python traceback may reach the user.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.engine.scenario import ScenarioError
from sim.engine.scenario_files import load_scenario
from tests import cli_process

HERE = Path(__file__).parent
BAD = HERE / "bad_scenarios"
VALID = BAD / "valid_base.toml"
PRICED = BAD / "priced_base.toml"  # valid too: the base of the price-book cases
ROOT = HERE.parent

# file -> fragments its message must contain: the file, the key path, what was expected (and the value given)
CASES: dict[str, tuple[str, ...]] = {
    "unknown_top_key.toml": ("unknown_top_key.toml", "seeds:", "unknown key", "did you mean 'seed'", "expected one of"),
    "unknown_nested_key.toml": ("unknown_nested_key.toml", "pools.inhouse.capcity:", "did you mean 'capacity'"),
    "wrong_type_years.toml": ("wrong_type_years.toml", "horizon.years:", "valid integer", "got 'ten'"),
    "capacity_negative.toml": (
        "capacity_negative.toml",
        "pools.inhouse.capacity:",
        "greater than or equal to 0, or 'unlimited'",
        "got -1",
    ),
    "capacity_wrong_type.toml": ("capacity_wrong_type.toml", "pools.homes.capacity:", "valid integer, or 'unlimited'"),
    "capacity_missing.toml": ("capacity_missing.toml", "pools.respite.capacity:", "required key is missing"),
    "exit_probability_above_one.toml": (
        "exit_probability_above_one.toml",
        "journeys.5-9.exit_routes.return_home:",
        "less than or equal to 1",
        "got 1.5",
    ),
    "exit_routes_not_summing.toml": ("exit_routes_not_summing.toml", "journeys.10-15:", "exit_routes must sum to 1"),
    "need_mix_not_summing.toml": ("need_mix_not_summing.toml", "entries.need_mix:", "must sum to 1, got 0.9"),
    "matching_undefined_pool.toml": (
        "matching_undefined_pool.toml",
        "matching.residential.pools:",
        "'external_home' is not defined",
        "expected one of: inhouse, ifa, homes, external_homes",
    ),
    "matching_last_finite.toml": (
        "matching_last_finite.toml",
        "matching.fostering.pools:",
        "'inhouse', capacity 8",
        "must be an unlimited pool",
    ),
    "capacity_change_outside_horizon.toml": (
        "capacity_change_outside_horizon.toml",
        "pools.homes.capacity_changes[0].date:",
        "2023-01-01 is outside the horizon",
        "expected a date from 2020-04-01",
    ),
    "seasonality_eleven.toml": ("seasonality_eleven.toml", "entries.seasonality:", "needs 12 monthly", "got 11"),
    "start_above_capacity.toml": (
        "start_above_capacity.toml",
        "start_population:",
        "9 children",
        "expected at most pools.inhouse.capacity = 8",
    ),
    "bad_distribution.toml": (
        "bad_distribution.toml",
        "journeys.5-9.duration.return_home:",
        "distribution 'normal' is not known",
        "expected one of",
    ),
    "missing_horizon.toml": ("missing_horizon.toml", "horizon:", "required key is missing"),
    "inherits_bad_value.toml": (
        "inherits_bad_value.toml",
        "pools.inhouse.capacity:",
        "or 'unlimited'",
        "set in",
        "capacity_negative.toml",
    ),
    "extends_missing.toml": ("extends_missing.toml", "extends:", "no_such_base.toml does not exist", "expected"),
    "loop_a.toml": ("loop_b.toml: extends:", "loop_a.toml -> ", "in a loop", "expected a chain"),
    "loop_b.toml": ("loop_a.toml: extends:", "loop_b.toml -> ", "in a loop", "expected a chain"),
    "invalid_toml.toml": ("invalid_toml.toml", "not valid TOML", "line 3"),
    "csv_bad_age.toml": (
        "start_bad_age.csv",
        "row 3",
        "age_years:",
        "expected a number (start",
        "csv_bad_age.toml",
    ),
    "csv_wrong_column.toml": (
        "start_wrong_column.csv",
        "row 1 (header)",
        "missing column(s) age_years",
        "expected a header row with the columns age_years, need, pool, days_in_care",
        "csv_wrong_column.toml",
    ),
    "csv_short_row.toml": ("start_short_row.csv", "row 4", "expected 4 values", "got 2", "csv_short_row.toml"),
    "csv_unknown_need.toml": ("start_unknown_need.csv", "row 2", "need:", "should be 'fostering'"),
    "price_negative.toml": ("price_negative.toml", "prices.pools.ifa.weekly:", "greater than or equal to 0", "got -5"),
    "price_missing.toml": ("price_missing.toml", "prices.pools.respite:", "used (matching.fostering)", "no price"),
    "inflation_below_minus_100.toml": (
        "inflation_below_minus_100.toml",
        "prices.inflation_percent_per_year:",
        "greater than -100",
        "got -150",
    ),
    "price_p90_below_median.toml": (
        "price_p90_below_median.toml",
        "prices.pools.external_homes.weekly_distribution:",
        "must be above the median",
    ),
}

NOISE = ("Traceback", "literal[", "constrained-", "function-", "[key]", "instance of", "<top level>")


def _cold_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The console command from a fresh interpreter (the other cases fork one that has imported it)."""
    command = [sys.executable, "-m", "sim.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_every_bad_file_has_a_case() -> None:
    files = {p.name for p in BAD.glob("*.toml")} - {VALID.name, PRICED.name}
    assert files == set(CASES)
    assert len(CASES) >= 14


@pytest.mark.parametrize("name", CASES)
def test_load_scenario_names_file_key_and_expectation(name: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(BAD / name)
    message = str(raised.value)
    print(message)
    for fragment in CASES[name]:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "\n" not in message, "one fault, one line"
    for noise in NOISE:
        assert noise not in message


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """`sufficiency run` on every bad file, each in a process of its own (tests/cli_process.py)."""
    base = tmp_path_factory.mktemp("cli_runs")

    def run(name: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        out = base / Path(name).stem / "out"
        out.parent.mkdir()
        return cli_process.run(["run", BAD / name, "--replications", "2", "--out", out, "--quiet"], cwd=ROOT), out

    return {name: run(name) for name in CASES}


@pytest.mark.parametrize("name", CASES)
def test_cli_run_exits_2_and_writes_nothing(name: str, cli_runs: dict) -> None:
    result, out = cli_runs[name]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert CASES[name][0] in result.stderr
    assert result.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize("name", CASES)
def test_cli_validate_exits_2(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(BAD / name)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert CASES[name][0] in captured.err
    assert captured.out == ""


def test_cli_validate_subprocess_bad_and_good() -> None:
    bad = _cold_cli("validate", BAD / "capacity_negative.toml")
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "pools.inhouse.capacity" in bad.stderr
    good = _cold_cli("validate", VALID)
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout


def test_valid_base_loads() -> None:
    scenario = load_scenario(VALID)
    assert scenario.horizon.years == 2
    assert set(scenario.pools) == {"inhouse", "ifa", "homes", "external_homes"}


# Problems that are easier to make in a temporary folder than to keep as files.


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _message(path: Path) -> str:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    return str(raised.value)


def test_missing_scenario_file() -> None:
    assert "does not exist" in _message(BAD / "no_such_file.toml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "is not a file" in _message(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00name")
    message = _message(path)
    assert "binary.toml" in message and "expected UTF-8" in message


def test_extends_not_a_string(tmp_path: Path) -> None:
    message = _message(_write(tmp_path, "s.toml", "extends = 5\n"))
    assert "s.toml: extends: expected the name of a scenario file" in message


def test_pool_named_like_a_union_member_keeps_its_name(tmp_path: Path) -> None:
    text = f'extends = "{VALID.as_posix()}"\n[pools.fixed]\nserves = ["fostering"]\ncapacity = -2\nin_house = true\n'
    message = _message(_write(tmp_path, "s.toml", text))
    assert "pools.fixed.capacity: Input should be greater than or equal to 0, or 'unlimited' (got -2)" in message


def test_unknown_key_in_a_distribution_lists_that_distribution_s_keys(tmp_path: Path) -> None:
    text = (
        f'extends = "{VALID.as_posix()}"\n[journeys.5-9]\n'
        'duration.return_home = { distribution = "exponential", mean = 30, sd = 2 }\n'
    )
    message = _message(_write(tmp_path, "s.toml", text))
    assert "journeys.5-9.duration.return_home.sd: unknown key; expected one of: distribution, mean" in message


def test_unknown_age_band(tmp_path: Path) -> None:
    text = f'extends = "{VALID.as_posix()}"\n[entries]\nrate_per_year = {{ 5-10 = 3 }}\n'
    message = _message(_write(tmp_path, "s.toml", text))
    assert "entries.rate_per_year: unknown key '5-10'; expected 'under1'" in message


def test_value_where_a_table_is_expected(tmp_path: Path) -> None:
    message = _message(_write(tmp_path, "s.toml", f'extends = "{VALID.as_posix()}"\n[pools]\ninhouse = 5\n'))
    assert "pools.inhouse: Input should be a table (got 5)" in message


def test_csv_blank_lines_keep_row_numbers(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "start.csv",
        "age_years,need,pool,days_in_care\n\n7,fostering,inhouse,100\n\n3,fostering,inhouse,5000\n",
    )
    text = f'extends = "{VALID.as_posix()}"\n[start_population]\ncsv = "start.csv"\n'
    message = _message(_write(tmp_path, "s.toml", text))
    assert "start.csv: row 5: days_in_care: expected no more than the child's age in days" in message


def test_missing_csv(tmp_path: Path) -> None:
    text = f'extends = "{VALID.as_posix()}"\n[start_population]\ncsv = "nowhere.csv"\n'
    message = _message(_write(tmp_path, "s.toml", text))
    assert "s.toml: start_population.csv: file" in message and "nowhere.csv does not exist" in message
