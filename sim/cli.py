"""The `sufficiency` command: run, validate, bench.

Exit codes: 0 success, 2 bad input (a scenario that cannot be used; nothing is written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from tqdm import tqdm

from sim.scenario import ScenarioError
from sim.scenario_files import load_scenario

BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sufficiency", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="simulate a scenario and write its results")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--replications", type=int, default=100, help="number of replications (default 100)")
    run.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's seed)")
    run.add_argument("--jobs", type=int, default=1, help="worker processes (0 = one per core; default 1)")
    run.add_argument("--out", type=Path, default=None, help="output directory (default out/<scenario file name>)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", type=Path)
    validate.set_defaults(handler=_validate)

    calibrate = commands.add_parser("calibrate", help="fit a baseline scenario from an authority's published figures")
    calibrate.add_argument("--authority", required=True, help="cheshire_east or stockport")
    calibrate.add_argument("--as-of", required=True, type=_date, help="calibration date, YYYY-MM-DD")
    calibrate.add_argument("--out", required=True, type=Path, help="scenario TOML to write")
    calibrate.set_defaults(handler=_calibrate)

    backtest = commands.add_parser("backtest", help="backcast a calibration against later published figures")
    backtest.add_argument("--authority", required=True)
    backtest.add_argument("--replications", type=int, default=200)
    backtest.add_argument("--jobs", type=int, default=1)
    backtest.add_argument("--out", type=Path, default=Path("out/backtest"), help="folder for the table and plot")
    backtest.set_defaults(handler=_backtest)

    bench = commands.add_parser("bench", help="time the engine on the Cheshire East baseline")
    bench.add_argument("--replications", type=int, default=100)
    bench.add_argument("--jobs", type=int, default=1)
    bench.add_argument("--scenario", type=Path, default=None, help="scenario to time (default: Cheshire East)")
    bench.set_defaults(handler=_bench)
    return parser


def _run(args: argparse.Namespace) -> int:
    from sim.outputs import print_summary, write_run
    from sim.runner import run

    if args.replications < 1:
        raise ScenarioError(f"--replications must be at least 1, got {args.replications}")
    scenario = load_scenario(args.scenario)
    out_dir = args.out or Path("out") / args.scenario.stem
    with tqdm(total=args.replications, unit="rep", disable=args.quiet, file=sys.stderr) as bar:
        result = run(scenario, args.replications, seed=args.seed, jobs=args.jobs, progress=bar.update)
    write_run(result, out_dir)
    print(print_summary(result))
    print(f"\nResults written to {out_dir}")
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _calibrate(args: argparse.Namespace) -> int:
    from calibration.published import calibrate_command, calibrate_text
    from calibration.published_data import CalibrationDataError

    try:
        text = calibrate_text(args.authority, args.as_of, calibrate_command(args.authority, args.as_of, args.out))
    except CalibrationDataError as error:
        raise ScenarioError(str(error)) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = args.out.with_name(f".{args.out.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    try:
        load_scenario(staging)  # never leave a scenario that does not validate
        staging.replace(args.out)
    finally:
        staging.unlink(missing_ok=True)
    print(f"Wrote {args.out}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from calibration.backtest import backtest, format_table, write_backtest
    from calibration.published_data import CalibrationDataError

    try:
        table, figure = backtest(args.authority, args.replications, jobs=args.jobs)
    except CalibrationDataError as error:
        raise ScenarioError(str(error)) from None
    paths = write_backtest(table, figure, args.out, args.authority)
    print(format_table(table))
    outside = table[~table["inside"]]
    print(f"\n{len(outside)} of {len(table)} published figures fall outside the simulated P10-P90 band.")
    print("Written: " + ", ".join(str(p) for p in paths))
    return 0


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    pools = ", ".join(scenario.pools)
    print(
        f"{args.scenario}: OK: '{scenario.name}', {scenario.horizon.start} for {scenario.horizon.years} years, "
        f"pools: {pools}"
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from sim.bench import bench_engine

    print(bench_engine(args.scenario, args.replications, args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
