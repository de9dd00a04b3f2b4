"""The `sufficiency` command: simulate, compare and calibrate care sufficiency scenarios.

Exit codes: 0 success; 2 bad input, a bad option or an environment problem (one line on stderr, nothing
written); 130 interrupted by Ctrl-C (143 by SIGTERM, 129 by SIGHUP).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from sim.results.interrupts import die_with_parent_if_spawned, stopping_on_signals

die_with_parent_if_spawned()  # before the imports below, which take a second or more

try:
    importlib.import_module("sim.engine")  # installs the compiled core, or refuses a SUFFICIENCY_CORE it cannot honour
except ImportError as refused:
    if refused.name != "SUFFICIENCY_CORE":
        raise
    print(f"error: {refused.msg}", file=sys.stderr)
    raise SystemExit(2) from None

from tqdm import tqdm

from sim import __version__
from sim.engine.errors import InputError
from sim.engine.scenario import FIRST_START_YEAR, LAST_START_YEAR, MAX_SEED, Scenario, ScenarioError
from sim.engine.scenario_files import load_scenario
from sim.present.output_folders import check_out_file, check_out_folder, replace_file

BAD_INPUT = 2
INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code (also for --help, --version and bad options, which argparse
    would end with SystemExit), so scripts, tests and the console script all read the same number."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as leaving:
        return _exit_code(leaving)
    try:
        with stopping_on_signals():  # SIGTERM and SIGHUP end a command as Ctrl-C does
            return args.handler(args)
    except InputError as error:
        return _fail(str(error))
    except MemoryError:
        return _fail("ran out of memory; expected fewer replications, a shorter horizon or more memory")
    except OSError as error:  # a disk that fills, a folder that vanishes: the environment, not our code
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}")
    except KeyboardInterrupt as interrupt:
        print("interrupted", file=sys.stderr)
        return getattr(interrupt, "exit_code", INTERRUPTED)  # 143 for SIGTERM, 129 for SIGHUP


def _exit_code(leaving: SystemExit) -> int:
    """SystemExit's code as a number: None is success, a message (never raised here) is a failure."""
    code = leaving.code
    return code if isinstance(code, int) else 0 if code is None else BAD_INPUT


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return BAD_INPUT


class _Parser(argparse.ArgumentParser):
    """Option errors as one line, like every other error (argparse would print its usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _count(low: int, high: int) -> Callable[[str], int]:
    """An option's whole number, from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low:,} to {high:,}, got {text!r}")
        return value

    return parse


def _jobs(text: str) -> int:
    """--jobs: 0 means one worker per core; no other value below 1 means anything, so -1 is refused."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(
            f"expected a number of worker processes from 1 to {MAX_JOBS:,}, or 0 for one per core; got {text!r}"
        )
    return value


REPLICATIONS = _count(1, 100_000)
SEED = _count(0, MAX_SEED)
MAX_JOBS = 1_024
JOBS = _jobs
WIDTH = 100  # the help's width, whatever the terminal: every line fits a 100-column window

COMMANDS = {  # name: its one-line summary, shown by `sufficiency --help` and at the top of its own --help
    "run": "simulate a scenario and write its results",
    "compare": "compare what-ifs with a base scenario (paired replications)",
    "region": "run a scenario set (several authorities) with totals for the region",
    "validate": "check a scenario file without running it",
    "calibrate": "fit a baseline scenario to published figures or SSDA903 returns",
    "backtest": "backcast a calibration against later figures or returns (--authority: from every origin)",
    "peers": "this project's SSDA903 projection beside cs-demand-model's on the same returns (make peers once)",
    "synthetic": "simulate a scenario and write SSDA903-format returns",
    "bench": "time the engine against its targets and its peers (several minutes)",
    "app": "start the workshop app, a local web page to pull the levers",
}


def _formatter(prog: str) -> argparse.HelpFormatter:
    """Help wrapped at WIDTH columns, with the option names in a column wide enough for most of them."""
    return argparse.HelpFormatter(prog, width=WIDTH, max_help_position=32)


def _listing() -> str:
    """Every command with its summary, in one aligned column (argparse's own listing wraps long names)."""
    name_width = max(map(len, COMMANDS)) + 2
    lines = []
    for name, summary in COMMANDS.items():
        wrapped = textwrap.wrap(summary, WIDTH - 2 - name_width)
        lines.append(f"  {name:<{name_width}}{wrapped[0]}")
        lines += [" " * (2 + name_width) + more for more in wrapped[1:]]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    """The `sufficiency` command and its ten subcommands, one small builder each."""
    parser = _Parser(
        prog="sufficiency",
        usage="sufficiency [-h] [--version] COMMAND ...",
        description=f"{__doc__.splitlines()[0]}\n\ncommands:\n{_listing()}",
        epilog=textwrap.fill(
            "`sufficiency COMMAND --help` gives a command's options. Exit codes: 0 success; 2 bad input or a bad "
            "option (one line on stderr, nothing written); 130 interrupted.",
            WIDTH,
        ),
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, width=WIDTH),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", help=argparse.SUPPRESS)  # listed above
    _add_run(commands)
    _add_compare(commands)
    _add_region(commands)
    _add_validate(commands)
    _add_calibrate(commands)
    _add_backtest(commands)
    _add_peers(commands)
    _add_synthetic(commands)
    _add_bench(commands)
    _add_app(commands)
    return parser


def _command(commands: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    """A subcommand whose --help opens with its summary from COMMANDS, the same words as the top-level listing."""
    return commands.add_parser(name, prog=f"sufficiency {name}", description=COMMANDS[name], formatter_class=_formatter)


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = _command(commands, "run")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--replications", type=REPLICATIONS, default=100, help="number of replications (default 100)")
    run.add_argument("--seed", type=SEED, default=None, help="random seed (default: the scenario's seed)")
    run.add_argument("--jobs", type=JOBS, default=1, help="worker processes (0 = one per core; default 1)")
    run.add_argument(
        "--out", type=Path, default=None, help="output directory (default out/<folder>_<scenario file name>)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar or progress lines on stderr")
    _fixed_parameters_option(run)
    _dask_option(run)
    run.set_defaults(handler=_run)


def _add_compare(commands: argparse._SubParsersAction) -> None:
    compare = _command(commands, "compare")
    compare.add_argument("base", type=Path, help="the base scenario")
    compare.add_argument("what_ifs", type=Path, nargs="+", metavar="WHATIF", help="what-if scenarios")
    compare.add_argument(
        "--replications", type=REPLICATIONS, default=100, help="replications of each scenario (default 100; at least 2)"
    )
    compare.add_argument("--jobs", type=JOBS, default=1, help="worker processes (0 = one per core; default 1)")
    compare.add_argument(
        "--out", type=Path, default=None, help="output directory (default out/compare_<folder>_<base file name>)"
    )
    compare.add_argument(
        "--sizing-replications",
        type=_count(1, 10_000),
        default=30,
        help="replications for each point of the sizing curves (default 30)",
    )
    compare.add_argument("--quiet", action="store_true", help="no progress bar or progress lines on stderr")
    _fixed_parameters_option(compare)
    _dask_option(compare)
    compare.set_defaults(handler=_compare)


def _fixed_parameters_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--fixed-parameters",
        action="store_true",
        help="ignore the scenario's [uncertainty]: every replication uses the same parameters (simulation noise only)",
    )


def _fixed(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The scenario without parameter draws when --fixed-parameters is given."""
    return scenario.model_copy(update={"uncertainty": None}) if args.fixed_parameters else scenario


def _add_region(commands: argparse._SubParsersAction) -> None:
    region = _command(commands, "region")
    region.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO", help="a folder of scenarios, or files")
    region.add_argument(
        "--replications",
        type=REPLICATIONS,
        default=100,
        help="replications of each authority (default 100, at least 2)",
    )
    region.add_argument("--jobs", type=JOBS, default=1, help="worker processes (0 = one per core; default 1)")
    region.add_argument(
        "--out", type=Path, default=None, help="output directory (default out/region_<folder>_<first file name>)"
    )
    region.add_argument("--quiet", action="store_true", help="no progress bar or progress lines on stderr")
    _dask_option(region)
    region.set_defaults(handler=_region)


def _add_validate(commands: argparse._SubParsersAction) -> None:
    validate = _command(commands, "validate")
    validate.add_argument("scenario", type=Path, help="scenario TOML file")
    validate.set_defaults(handler=_validate)


def _add_calibrate(commands: argparse._SubParsersAction) -> None:
    calibrate = _command(commands, "calibrate")
    source = calibrate.add_mutually_exclusive_group(required=True)
    source.add_argument("--authority", help="an authority with published figures: cheshire_east or stockport")
    source.add_argument("--ssda903", type=Path, help="a folder of SSDA903 returns (header, episodes, UASC)")
    calibrate.add_argument("--as-of", required=True, type=_date, help="calibration date, YYYY-MM-DD")
    calibrate.add_argument("--out", required=True, type=Path, help="scenario TOML to write")
    calibrate.add_argument(
        "--prices", type=Path, default=None, help="with --authority: the price book to extend (default its own)"
    )
    calibrate.add_argument(
        "--dfe-rules",
        action="store_true",
        help="with --ssda903: also run the DfE's SSDA903 validation rules for the report (about 7 s a return year; "
        "needs make dfe-rules once)",
    )
    calibrate.add_argument(
        "--postcodes",
        type=Path,
        default=None,
        help="with --ssda903: a postcode lookup CSV (the ONS Postcode Directory: postcode, lat, long) to fit each "
        "pool's share placed within 20 miles of home",
    )
    _ssda903_options(calibrate)
    calibrate.set_defaults(handler=_calibrate)


def _add_backtest(commands: argparse._SubParsersAction) -> None:
    backtest = _command(commands, "backtest")
    target = backtest.add_mutually_exclusive_group(required=True)
    target.add_argument("--authority", help="an authority with published figures: cheshire_east or stockport")
    target.add_argument("--ssda903", type=Path, help="a folder of SSDA903 returns (header, episodes, UASC)")
    backtest.add_argument("--origin", type=_date, help="with --ssda903: calibrate on what was known on this date")
    backtest.add_argument(
        "--horizon", type=_count(1, 600), default=24, help="with --ssda903: months to forecast (default 24)"
    )
    _ssda903_options(backtest)
    backtest.add_argument("--replications", type=REPLICATIONS, default=200, help="replications (default 200)")
    backtest.add_argument("--jobs", type=JOBS, default=1, help="worker processes (0 = one per core; default 1)")
    backtest.add_argument("--out", type=Path, default=Path("out/backtest"), help="folder for the table and plot")
    backtest.set_defaults(handler=_backtest)


def _add_peers(commands: argparse._SubParsersAction) -> None:
    peers = _command(commands, "peers")
    peers.add_argument("--ssda903", type=Path, required=True, help="a folder of SSDA903 returns")
    peers.add_argument("--start", type=_date, required=True, help="the projections' start date, YYYY-MM-DD")
    peers.add_argument(
        "--reference-years",
        type=_count(1, 20),
        default=2,
        help="like for like: years of reference before the start, for both tools (default 2)",
    )
    peers.add_argument("--out", type=Path, default=Path("out/peers"), help="folder for peer_comparison.csv and .md")
    peers.set_defaults(handler=_peers)


def _ssda903_options(command: argparse.ArgumentParser) -> None:
    """Which authority, period, short breaks and children an SSDA903 calibration reads."""
    command.add_argument(
        "--window-years", type=_count(1, 100), default=3, help="with --ssda903: years of history to fit (default 3)"
    )
    command.add_argument(
        "--reference-start",
        type=_date,
        default=None,
        help="with --ssda903: first day of the reference period the fit reads (default --window-years before its end)",
    )
    command.add_argument(
        "--reference-end",
        type=_date,
        default=None,
        help="with --ssda903: the day the reference period ends, itself left out (default and at most the as-of or "
        "origin date)",
    )
    command.add_argument(
        "--la", default=None, help="with --ssda903: keep only this LA code, or 'all' to pool every authority's children"
    )
    command.add_argument(
        "--short-breaks",
        choices=("exclude", "include"),
        default="exclude",
        help="with --ssda903: V3/V4 short breaks left out of care without splitting periods (default, as the DfE "
        "counts), or kept as care",
    )
    command.add_argument("--sex", choices=("male", "female"), default=None, help="with --ssda903: only these children")
    command.add_argument("--uasc", choices=("yes", "no"), default=None, help="with --ssda903: only UASC, or no UASC")
    command.add_argument(
        "--ethnicity",
        type=_listed("ethnicity"),
        default=(),
        help="with --ssda903: GROUP[,GROUP] of white, mixed, asian, black, other, refused_or_not_obtained (the "
        "DfE's groups of ETHNIC)",
    )
    command.add_argument(
        "--entry-age",
        type=_listed("entry-age"),
        default=(),
        help="with --ssda903: BAND[,BAND] of under1, 1-4, 5-9, 10-15, 16-17: only periods of care begun at these ages",
    )


def _listed(kind: str) -> Callable[[str], tuple[str, ...]]:
    """A comma-separated list option, each item checked (calibration.ssda903.filters.parse_list)."""

    def parse(text: str) -> tuple[str, ...]:
        from calibration.ssda903.filters import parse_list

        try:
            return parse_list(kind, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _chosen(args: argparse.Namespace) -> dict[str, Any]:
    """The read options as keywords of write_calibration and backtest_ssda903: which returns and children."""
    from calibration.ssda903.filters import Population

    uasc = {"yes": True, "no": False, None: None}[args.uasc]
    population = Population(sex=args.sex, uasc=uasc, ethnicity=args.ethnicity, entry_age=args.entry_age)
    return {
        "la": args.la,
        "window_years": args.window_years,
        "reference_start": args.reference_start,
        "reference_end": args.reference_end,
        "short_breaks": args.short_breaks,
        "population": population,
    }


READ_DEFAULTS = {
    "la": None,
    "window_years": 3,
    "reference_start": None,
    "reference_end": None,
    "short_breaks": "exclude",
    "sex": None,
    "uasc": None,
    "ethnicity": (),
    "entry_age": (),
}


def _given_options(args: argparse.Namespace) -> str:
    """The read options given (not left at their defaults), so a written scenario records how it was made."""
    given = ""
    for name, default in READ_DEFAULTS.items():
        value = getattr(args, name)
        if value != default:
            given += f" --{name.replace('_', '-')} {','.join(value) if isinstance(value, tuple) else value}"
    return given


def _refuse_read_options(args: argparse.Namespace, also: str) -> None:
    """With --authority, the SSDA903 options would be silently ignored: refused instead."""
    given = (_given_options(args) + (f" {also}" if also else "")).strip()
    if given:
        raise ScenarioError(f"{given}: these options go with --ssda903, not --authority")


def _add_synthetic(commands: argparse._SubParsersAction) -> None:
    synthetic = _command(commands, "synthetic")
    synthetic.add_argument("scenario", type=Path, help="scenario TOML file")
    synthetic.add_argument("--out", required=True, type=Path, help="folder for YYYY-header/episodes/uasc.csv")
    synthetic.add_argument("--seed", type=SEED, default=None, help="default: the scenario's seed")
    synthetic.add_argument(
        "--first-year",
        type=_count(FIRST_START_YEAR, LAST_START_YEAR),
        default=None,
        help="first return year (year ending 31 March)",
    )
    synthetic.set_defaults(handler=_synthetic)


def _add_bench(commands: argparse._SubParsersAction) -> None:
    bench = _command(commands, "bench")
    bench.add_argument("--jobs", type=JOBS, default=2, help="worker processes for the parallel figures (default 2)")
    bench.add_argument("--quick", action="store_true", help="a tiny version of every figure (seconds, not minutes)")
    bench.add_argument(
        "--calibration", action="store_true", help="also time SSDA903 calibration on about 50,000 synthetic episodes"
    )
    bench.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write every figure, with the machine, commit and date, to FILE as JSON (in an existing folder; "
        "replaced whole at the end)",
    )
    bench.set_defaults(handler=_bench)


def _add_app(commands: argparse._SubParsersAction) -> None:
    app = _command(commands, "app")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    app.add_argument("--port", type=_count(1, 65_535), default=8501, help="port (default 8501)")
    app.add_argument("--jobs", type=JOBS, default=0, help="worker processes per run (0 = one per core; default 0)")
    app.set_defaults(handler=_app)


def _dask_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=None,
        help="run the batches on a dask.distributed scheduler at ADDRESS (tcp://host:8786), or 'local' to start "
        "a cluster of --jobs workers here; same results as a local run",
    )


def _run(args: argparse.Namespace) -> int:
    scenario = _fixed(load_scenario(args.scenario), args)
    out_dir = args.out or _default_out(args.scenario)
    check_out_folder(out_dir)  # before the run, not after it
    _check_dask(args.dask)
    from sim.present.outputs import (  # pandas and matplotlib: only once the input is good
        TERMINAL_WIDTH,
        print_summary,
        write_run,
    )
    from sim.results.runner import run

    with tqdm(total=args.replications, unit="rep", disable=args.quiet, file=sys.stderr) as bar:
        result = run(scenario, args.replications, seed=args.seed, jobs=args.jobs, progress=bar.update, dask=args.dask)
    _writing(WRITING_RUN.format(out=out_dir), args.quiet)
    write_run(result, out_dir, scenario_path=args.scenario)
    print(print_summary(result))
    from calibration.backtest_result import backtest_line  # the CLI reads the calibration's own record

    line = backtest_line(scenario.name)
    if line:
        print("\n" + textwrap.fill(line, TERMINAL_WIDTH, subsequent_indent="    "))
    print(f"\nResults written to {out_dir}")
    return 0


WRITING_RUN = "Writing tables, charts and the report to {out}..."
WRITING_COMPARISON = (
    "Simulating the sizing curves ({sizing} replications a point), then writing tables, charts and the report to "
    "{out}..."
)
WRITING_REGION = "Writing the region's summary and each authority's tables to {out}..."


def _writing(line: str, quiet: bool) -> None:
    """One line on stderr after the progress bar, so the 10-20 s spent writing files are not silent."""
    if not quiet:
        print(line, file=sys.stderr, flush=True)


def _default_out(path: Path, prefix: str = "") -> Path:
    """out/<prefix><folder>_<file>: the scenario's folder is in the name, so two authorities' baseline.toml
    (scenarios/cheshire_east/, scenarios/stockport/) never share, and replace, one output folder."""
    folder = path.resolve().parent.name
    return Path("out") / f"{prefix}{folder}_{path.stem}" if folder else Path("out") / f"{prefix}{path.stem}"


def _check_dask(address: str | None) -> None:
    """A scheduler that does not answer is refused before the progress bar starts, not after it."""
    if address and address != "local":
        from sim.results.distributed import check_scheduler

        check_scheduler(address)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _calibrate(args: argparse.Namespace) -> int:
    from calibration.published import calibrate_command, calibrate_text, price_book_reference
    from sim.engine.scenario_files import load_scenario_text

    if args.ssda903 is not None:
        from calibration.ssda903.calibrate import write_calibration

        if args.prices is not None:
            raise ScenarioError("--prices goes with --authority; a calibration from SSDA903 writes no price book")

        if args.dfe_rules:
            from calibration.ssda903.dfe_rules import INSTALL, find_environment

            if find_environment() is None:
                raise ScenarioError(f"--dfe-rules: {INSTALL}")
        command = f"sufficiency calibrate --ssda903 {args.ssda903} --as-of {args.as_of} --out {args.out}"
        if args.postcodes is not None:
            command += f" --postcodes {args.postcodes}"
        with _data_errors():
            scenario, report = write_calibration(
                args.ssda903,
                args.as_of,
                args.out,
                command + _given_options(args),
                dfe_rules=args.dfe_rules,
                postcodes=args.postcodes,
                **_chosen(args),
            )
        print(f"Wrote {scenario} and {report}")
        return 0
    also = (("--dfe-rules", args.dfe_rules), ("--postcodes", args.postcodes is not None))
    _refuse_read_options(args, " ".join(option for option, given in also if given))
    check_out_file(args.out)  # replaces only a file `sufficiency calibrate` wrote; refused before fitting
    prices = price_book_reference(args.authority, args.out, args.prices)  # found from wherever --out is
    with _data_errors():
        command = calibrate_command(args.authority, args.as_of, args.out, args.prices)
        text = calibrate_text(args.authority, args.as_of, command, prices)
    load_scenario_text(text, args.out)  # never leave a scenario that does not validate; messages name --out
    replace_file(args.out, text)
    print(f"Wrote {args.out}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    if args.ssda903 is not None:
        return _backtest_ssda903(args)
    _refuse_read_options(args, "--origin" if args.origin else "")
    from calibration.backtest import backtest, write_published_backtest
    from calibration.backtest_result import format_scores, format_table

    check_out_folder(args.out)
    with _data_errors():
        result = backtest(args.authority, args.replications, jobs=args.jobs)
    paths = write_published_backtest(result, args.out, args.authority)
    print(format_table(result))
    outside = [row for row in result.compared if not row.inside]
    origins = len({row.origin for row in result.compared})
    print(
        f"\n{len(outside)} of {len(result.compared)} published figures (from {origins} origins) fall outside the "
        f"simulated P10-P90 band (the spread across replications: {result.band_source})."
    )
    print("\nScores: % inside each band, MAPE (%), interval score (% of the figure; lower is better):")
    print(format_scores(result))
    flat = sum(1 for row in result.compared for one in row.comparators if one.note)
    if flat:
        print(f"The trend comparator is held flat for {flat} figures: fewer than two published figures by the origin.")
    print("Written: " + ", ".join(str(p) for p in paths))
    return 0


def _backtest_ssda903(args: argparse.Namespace) -> int:
    from calibration.backtest_result import format_summary
    from calibration.ssda903.backtest import backtest_ssda903, write_ssda903_backtest

    if args.origin is None:
        raise ScenarioError("backtest --ssda903 needs --origin YYYY-MM-DD")
    check_out_folder(args.out)
    with _data_errors():
        result = backtest_ssda903(
            args.ssda903, args.origin, args.horizon, args.replications, jobs=args.jobs, **_chosen(args)
        )
    paths = write_ssda903_backtest(result, args.out)
    print("Share of months inside the simulated bands, and mean absolute percentage error (model and naive):")
    print(format_summary(result))
    print("Written: " + ", ".join(str(p) for p in paths))
    return 0


def _peers(args: argparse.Namespace) -> int:
    from calibration.ssda903.peer_comparison import compare, write_comparison

    check_out_folder(args.out)  # refused before the two tools run, not after
    with _data_errors():
        table, notes = compare(args.ssda903, args.start, args.reference_years)
    for path in write_comparison(table, notes, args.out):
        print(f"Written: {path}")
    return 0


@contextlib.contextmanager
def _data_errors():
    """Bad calibration data become a clear one-line error with exit code 2."""
    from calibration.published_data import CalibrationDataError
    from calibration.ssda903.reader import SSDA903Error

    try:
        yield
    except (CalibrationDataError, SSDA903Error, ValueError) as error:
        raise ScenarioError(str(error)) from None


def _compare(args: argparse.Namespace) -> int:
    if args.replications < 2:
        raise ScenarioError(f"--replications must be at least 2 for confidence intervals, got {args.replications}")
    base = _fixed(load_scenario(args.base), args)
    what_ifs = [_fixed(load_scenario(path), args) for path in args.what_ifs]
    out_dir = args.out or _default_out(args.base, "compare_")
    check_out_folder(out_dir)
    _check_dask(args.dask)
    from sim.analysis.compare import compare  # pandas and matplotlib: only once the input is good
    from sim.present.outputs import TERMINAL_WIDTH, write_comparison

    total = args.replications * (1 + len(what_ifs))
    with tqdm(total=total, unit="rep", disable=args.quiet, file=sys.stderr) as bar:

        def so_far(interim) -> None:
            """A first answer while the run goes on (after about 50 replications, then at twice as many)."""
            for sentence in interim.summaries.values():
                text = f"So far, {interim.base.replications} of {args.replications} replications: {sentence}"
                bar.write(textwrap.fill(text, TERMINAL_WIDTH, subsequent_indent="    "), file=sys.stderr)

        partial = None if args.quiet else so_far
        comparison = compare(
            base, what_ifs, args.replications, jobs=args.jobs, progress=bar.update, dask=args.dask, partial=partial
        )
    _writing(WRITING_COMPARISON.format(sizing=args.sizing_replications, out=out_dir), args.quiet)
    report = write_comparison(comparison, [args.base, *args.what_ifs], out_dir, args.sizing_replications)
    for sentence in comparison.summaries.values():
        print(sentence)
    print(f"\nReport: {report}")
    return 0


def _region(args: argparse.Namespace) -> int:
    from sim.analysis.region import region_table, run_region, scenario_set
    from sim.present.outputs import write_region

    if args.replications < 2:
        raise ScenarioError(f"--replications must be at least 2 for intervals, got {args.replications}")
    files = scenario_set(args.scenarios)
    out_dir = args.out or _default_out(args.scenarios[0], "region_")
    check_out_folder(out_dir)
    _check_dask(args.dask)
    with tqdm(total=args.replications * len(files), unit="rep", disable=args.quiet, file=sys.stderr) as bar:
        region = run_region(files, args.replications, jobs=args.jobs, progress=bar.update, dask=args.dask)
    _writing(WRITING_REGION.format(out=out_dir), args.quiet)
    written = write_region(region, out_dir)
    if region.financial_years:
        print(region_table(region, region.financial_years[0]))
    else:
        print("No financial year is covered in full by every authority's horizon: no region totals.")
    print(f"\n{len(files)} authorities; financial years with region totals: {', '.join(region.financial_years)}")
    print(f"Summary: {written}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    pools = ", ".join(scenario.pools)
    print(
        f"{args.scenario}: OK: '{scenario.name}', {scenario.horizon.start} for {scenario.horizon.years} years, "
        f"pools: {pools}"
    )
    return 0


def _app(args: argparse.Namespace) -> int:
    from sim.app.launch import launch  # imports no Streamlit, so the base install runs every other command

    return launch(args.host, args.port, args.jobs)


def _bench(args: argparse.Namespace) -> int:
    from bench.benchmark import measure
    from bench.record import Figure, check_json_path, document, write_json

    if args.json is not None:
        check_json_path(args.json)  # before minutes of timing, not after them
    about, figures = measure(jobs=args.jobs, quick=args.quick, echo=lambda line: print(line, flush=True))
    if args.calibration:
        from calibration.ssda903.bench import bench_calibration

        name, _, result = bench_calibration().partition(": ")
        figures.append(Figure(name, result))
        print(figures[-1].line(), flush=True)
    if args.json is not None:
        write_json(args.json, document(about, figures))
        print(f"Figures written to {args.json}")
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from calibration.ssda903.synthetic import write_synthetic_ssda903

    scenario = load_scenario(args.scenario)
    seed = scenario.seed if args.seed is None else args.seed
    with _data_errors():
        summary = write_synthetic_ssda903(scenario, args.out, seed, first_year=args.first_year)
    print(
        f"Wrote {len(summary.files)} files for {summary.years[0]}-{summary.years[-1]} to {args.out}: "
        f"{summary.children} children, {summary.episodes} episodes (synthetic: no real child)"
    )
    for note in summary.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
