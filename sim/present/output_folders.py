"""Where the tool writes: `--out` folders replaced whole, and only when they are the tool's own.

A folder named by `--out` is replaced only if it is new, empty, or an earlier output of `sufficiency`:
it holds the marker file `.sufficiency-output.json` and no file the marker does not list (or, written
before the marker existed, it has exactly the shape of a run, comparison, region or backtest output).
Anything else (`--out .`, a home folder, a scenario folder) is refused with an `InputError` before
anything is written.

Replacing is atomic against a kill at any moment. The new folder is written as a hidden sibling,
`.<name>.sufficiency-staging-<host>-<pid>-<token>`; when complete the old folder is renamed aside
(`...-aside-...`), the new one renamed in, and the old one renamed to `...-trash-...` and deleted, its
marker last. The path therefore holds the old or the new folder whole, except between the two renames,
when it is missing and the aside folder holds the old output whole. The next write to the same parent
folder recovers (`recover`): a dead writer's aside folder goes back to its path if that is still missing
(the interrupted command then changed nothing) and is deleted otherwise; its staging and trash folders
are deleted. Only siblings with that name pattern, this machine's host tag, a dead pid and our marker
(or nothing at all inside) are touched.

Single files (calibrate's scenario TOML and its report) are replaced only when `sufficiency calibrate`
wrote them (its "Written by: sufficiency calibrate" header), through a sibling temporary file and
`os.replace`; no message names the temporary file.

Low level on purpose: the standard library and `sim.engine.errors` only, so calibration and every writer can
use it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from sim import __version__
from sim.engine.errors import InputError

TOOL = "sufficiency"
MARKER = ".sufficiency-output.json"
MARKER_TEMPORARY = MARKER + ".tmp"  # the marker is written to this name inside staging, then renamed
CALIBRATE_HEADER = "Written by: sufficiency calibrate"  # "# ..." atop its TOML, "<!-- ... -->" atop its report
LEGACY_REPORT = "<h1>Calibration from SSDA903 returns: "  # calibration reports written before the header
EXPECTED_FOLDER = (
    f"expected a new folder, an empty one, or an earlier output of `{TOOL}` (with its marker file {MARKER})"
)
EXPECTED_FILE = f"expected a new file name or a file written by `{TOOL} calibrate`"
SIBLING = re.compile(
    r"^\.(?P<name>.+)\.sufficiency-(?P<kind>staging|aside|trash|tmp)-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-f]{8}$"
)
SHOWN = 4  # file names quoted in a refusal

# Outputs written before the marker existed, recognised by their exact shape (see docs/decisions); a run folder
# of today less its marker too, with or without a price book.
RUN_FILE = re.compile(
    r"^(run\.json|report\.html|summary\.csv|statement\.csv|statement_gaps\.csv|budget\.csv|budget\.xlsx"
    r"|budget_wide\.csv|spend_bridge\.csv|budget_check\.csv|grant\.csv|[a-z0-9_]+\.parquet)$"
)
COMPARE_REQUIRED = {"report.html", "differences.csv", "summary.txt"}
COMPARE_FILES = COMPARE_REQUIRED | {"sizing.csv"}
CHART_FILE = re.compile(r"^[a-z0-9_]+\.(png|svg)$")
BACKTEST_SSDA903 = {"backtest_summary.csv", "backtest_monthly.csv", "backtest.png"}
BACKTEST_PUBLISHED = re.compile(r"^backtest_(?P<authority>[a-z0-9_]+)\.(?P<suffix>csv|png)$")

_step_hook: Callable[[str], None] | None = None  # tests set this to stop the process at a named step


def _step(name: str) -> None:
    if _step_hook is not None:
        _step_hook(name)


# ---------------------------------------------------------------------------------------------- folders


def check_out_folder(out: str | Path, option: str = "--out") -> str:
    """Raise InputError unless `out` may be written and replaced; return 'new', 'empty', 'output' or 'legacy'."""
    out = Path(out)
    label = f"{option} {out}"
    path = _absolute(out)
    if path.parent == path:
        raise InputError(f"{label}: is the root of the file system; {EXPECTED_FOLDER}")
    info = _lstat(path, label)
    if info is None:
        _check_can_create(path, label)
        return "new"
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"{label}: is a symbolic link; expected a folder (give the path it points to)")
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{label}: is a file, not a folder; {EXPECTED_FOLDER}")
    state = _classify(path, label, option)
    if _holds_working_folder(path):
        raise InputError(
            f"{label}: is the current folder or holds it (replacing it would leave the shell in a deleted "
            "folder); expected a folder elsewhere, such as out/NAME"
        )
    _check_writable(path.parent, label)
    return state


@contextlib.contextmanager
def replaced_folder(out: str | Path, writer: str, option: str = "--out") -> Iterator[Path]:
    """A staging folder next to `out`, renamed to `out` once the body has written everything in it.

    `writer` names the command (run, compare, region, backtest, synthetic) in the marker. Raises InputError,
    before anything is written, when `out` is not a folder this tool may replace.
    """
    out = Path(out)
    label = f"{option} {out}"
    path = _absolute(out)
    check_out_folder(out, option)
    _make_folders(path.parent, label)
    recover(path.parent)
    check_out_folder(out, option)  # recovery may have put an earlier output back at `out`
    staging = _sibling(path, "staging")
    try:
        os.mkdir(staging)
    except OSError as error:
        raise InputError(f"{label}: cannot write in {path.parent} ({_reason(error)})") from None
    try:
        try:
            _write_marker(staging, writer, complete=False)
        except OSError as error:
            raise InputError(f"{label}: could not be written ({_reason(error)})") from None
        _step("staging_created")
        try:
            yield staging
        except OSError as error:  # a full disk, a read-only folder: named by --out, never by the staging folder
            raise InputError(f"{label}: could not be written ({_reason(error)})") from None
        try:
            _write_marker(staging, writer, complete=True, files=_files(staging))
        except OSError as error:
            raise InputError(f"{label}: could not be written ({_reason(error)})") from None
        _step("staged")
        _swap(staging, out, option)
    except BaseException:
        _remove_quietly(staging)  # gone already when it was renamed into place
        raise
    _step("done")


def _swap(staging: Path, out: Path, option: str) -> None:
    label = f"{option} {out}"
    path = _absolute(out)
    state = check_out_folder(out, option)  # again: the folder may have changed while the body ran
    if state in ("new", "empty"):
        try:
            if state == "empty" and os.name != "posix":
                os.rmdir(path)  # elsewhere a rename does not replace even an empty folder
            os.rename(staging, path)  # POSIX replaces an empty folder atomically and refuses a non-empty one
        except OSError as error:
            raise InputError(f"{label}: could not be moved into place ({_reason(error)})") from None
        _step("new_in_place")
        return
    if state == "legacy":  # give an output written before the marker existed one, so recovery knows it
        try:
            _write_marker(path, "earlier output", complete=True, files=_files(path))
        except OSError as error:
            raise InputError(f"{label}: the earlier output could not be marked ({_reason(error)})") from None
        _step("old_adopted")
    aside = _sibling(path, "aside")
    try:
        os.rename(path, aside)
    except OSError as error:
        raise InputError(f"{label}: the earlier output could not be moved aside ({_reason(error)})") from None
    _step("old_aside")
    try:
        os.rename(staging, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.rename(aside, path)  # put the earlier output back
        if isinstance(error, OSError):
            raise InputError(f"{label}: could not be moved into place ({_reason(error)})") from None
        raise
    _step("new_in_place")
    _discard(aside)


def recover(parent: str | Path) -> None:
    """Tidy what interrupted writers left in `parent`: see the module docstring. Never raises."""
    parent = Path(parent)
    try:
        entries = sorted(os.scandir(parent), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        match = SIBLING.match(entry.name)
        if not match or match["host"] != _host_tag() or _alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            if match["kind"] == "tmp":
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            folder = Path(entry.path)
            marker = _read_marker(folder / MARKER)
            if marker is None and not _empty_but_for_marker_temporary(folder):
                continue  # not provably ours: leave it alone
            target = parent / match["name"]
            complete = marker is not None and marker.get("complete") is True
            if match["kind"] == "aside" and complete and not os.path.lexists(target):
                os.rename(folder, target)  # the interrupted command changed nothing
                continue
            _discard(folder)


def _discard(folder: Path) -> None:
    """Rename one of our folders to a trash name of this process, then delete it (its marker last)."""
    name = SIBLING.match(folder.name)
    trash = _sibling(folder.parent / (name["name"] if name else folder.name), "trash")
    try:
        os.rename(folder, trash)
    except OSError:
        return
    _step("old_trashed")
    _remove_quietly(trash)


def _remove_quietly(folder: Path) -> None:
    with contextlib.suppress(OSError):
        _remove(folder)


def _remove(folder: Path) -> None:
    """Delete a folder of ours so that, until it is empty, its marker is still there to say so."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    first = True
    for entry in entries:
        if entry.name == MARKER:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
        if first:
            _step("removing")
            first = False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder / MARKER)
    os.rmdir(folder)


def _write_marker(folder: Path, writer: str, complete: bool, files: list[str] | None = None) -> None:
    marker = {
        "tool": TOOL,
        "about": f"Written by `{TOOL}` (the care sufficiency simulator). It replaces this folder only while "
        "every file in it is one listed here.",
        "writer": writer,
        "version": __version__,
        "command": _command_line(),
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "complete": complete,
        "files": files or [],
    }
    temporary = folder / MARKER_TEMPORARY
    temporary.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, folder / MARKER)


def _read_marker(path: Path) -> dict | None:
    """The marker's content if it is one this tool wrote, else None."""
    try:
        if os.lstat(path).st_size > 10_000_000:
            return None
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("tool") != TOOL:
        return None
    files = marker.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return marker


def _classify(path: Path, label: str, option: str) -> str:
    try:
        return _classify_entries(path, label, option)
    except OSError as error:
        raise InputError(f"{label}: the folder cannot be read ({_reason(error)}); {EXPECTED_FOLDER}") from None


def _classify_entries(path: Path, label: str, option: str) -> str:
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    if not entries:
        return "empty"
    if [e.name for e in entries] == [MARKER_TEMPORARY]:
        return "output"  # a marker being written when its writer was stopped: replaced like an output
    entries = [e for e in entries if e.name != MARKER_TEMPORARY]
    if any(e.name == MARKER for e in entries):
        marker = _read_marker(path / MARKER)
        if marker is None or marker.get("complete") is not True:
            raise InputError(f"{label}: its {MARKER} is not a marker file `{TOOL}` wrote; {EXPECTED_FOLDER}")
        unlisted = list(itertools.islice(_unlisted(path, set(marker["files"])), SHOWN + 1))
        if unlisted:
            raise InputError(
                f"{label}: the folder is an earlier output of `{TOOL}` but also holds files it did not write "
                f"({_names(unlisted)}); move them out first, or choose another {option}"
            )
        return "output"
    if _legacy_output(path, entries):
        return "legacy"
    foreign = [_shown(e) for e in entries if not _legacy_name(e)]
    if foreign:
        raise InputError(
            f"{label}: the folder holds files this tool did not write ({_names(foreign)}); {EXPECTED_FOLDER}"
        )
    raise InputError(
        f"{label}: the folder has no marker file {MARKER} and is not recognisably an earlier output of "
        f"`{TOOL}`; {EXPECTED_FOLDER}"
    )


def _unlisted(folder: Path, listed: set[str], prefix: str = "") -> Iterator[str]:
    """Files (anything but a folder) under `folder` that the marker does not list."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        relative = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _unlisted(Path(entry.path), listed, relative + "/")
        elif relative not in listed and relative not in (MARKER, MARKER_TEMPORARY):
            yield relative


def _files(folder: Path, prefix: str = "") -> list[str]:
    files = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        relative = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            files.extend(_files(Path(entry.path), relative + "/"))
        elif relative not in (MARKER, MARKER_TEMPORARY):
            files.append(relative)
    return files


def _legacy_output(path: Path, entries: list[os.DirEntry]) -> bool:
    """An output written before the marker existed: exactly the shape of a run, comparison, region or backtest."""
    return (
        _legacy_run(path, entries)
        or _legacy_compare(path, entries)
        or _legacy_region(entries)
        or _legacy_backtest(entries)
    )


def _legacy_run(path: Path, entries: list[os.DirEntry]) -> bool:
    names = {e.name for e in entries}
    return (
        all(e.is_file(follow_symlinks=False) and RUN_FILE.match(e.name) for e in entries)
        and "run.json" in names
        and _is_run_json(path / "run.json")
    )


def _is_run_json(path: Path) -> bool:
    try:
        if os.lstat(path).st_size > 100_000_000:
            return False
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and {"version", "replications", "scenario"} <= set(metadata)


def _legacy_compare(path: Path, entries: list[os.DirEntry]) -> bool:
    names = {e.name for e in entries}
    if not names >= COMPARE_REQUIRED:
        return False
    for entry in entries:
        if entry.name == "charts" and entry.is_dir(follow_symlinks=False):
            try:
                charts = list(os.scandir(entry.path))
            except OSError:
                return False
            if not all(c.is_file(follow_symlinks=False) and CHART_FILE.match(c.name) for c in charts):
                return False
        elif not (entry.name in COMPARE_FILES and entry.is_file(follow_symlinks=False)):
            return False
    return True


def _legacy_region(entries: list[os.DirEntry]) -> bool:
    if not any(e.name == "region_summary.csv" and e.is_file(follow_symlinks=False) for e in entries):
        return False
    for entry in entries:
        if entry.name == "region_summary.csv":
            continue
        if not entry.is_dir(follow_symlinks=False):
            return False
        try:
            inside = sorted(os.scandir(entry.path), key=lambda e: e.name)
        except OSError:
            return False
        if not _legacy_run(Path(entry.path), inside):
            return False
    return True


def _legacy_backtest(entries: list[os.DirEntry]) -> bool:
    """backtest --ssda903's three files, and/or backtest --authority's CSV and PNG for each authority."""
    if not all(e.is_file(follow_symlinks=False) for e in entries):
        return False
    names = {e.name for e in entries}
    published: dict[str, set[str]] = {}
    for name in names - BACKTEST_SSDA903:
        match = BACKTEST_PUBLISHED.match(name)
        if not match:
            return False
        published.setdefault(match["authority"], set()).add(match["suffix"])
    ssda903 = names & BACKTEST_SSDA903
    return (not ssda903 or ssda903 == BACKTEST_SSDA903) and all(s == {"csv", "png"} for s in published.values())


def _legacy_name(entry: os.DirEntry) -> bool:
    """A name some writer of this tool uses (only to pick which names a refusal quotes)."""
    name = entry.name
    if entry.is_dir(follow_symlinks=False):
        return name == "charts"
    return bool(
        RUN_FILE.match(name)
        or name in COMPARE_FILES
        or name == "region_summary.csv"
        or name in BACKTEST_SSDA903
        or BACKTEST_PUBLISHED.match(name)
    )


def _shown(entry: os.DirEntry) -> str:
    return entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name


def _names(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")


def _empty_but_for_marker_temporary(folder: Path) -> bool:
    try:
        return {e.name for e in os.scandir(folder)} <= {MARKER_TEMPORARY}
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------ files


def written_by_calibrate(path: str | Path) -> bool:
    """A file `sufficiency calibrate` wrote: a "# Written by: sufficiency calibrate" line in the comment block
    atop a scenario TOML, or "<!-- Written by: sufficiency calibrate" atop a calibration report (or such a
    report's heading, from before that line was added)."""
    try:
        with open(path, "rb") as file:
            head = file.read(8192).decode("utf-8", errors="replace")
    except OSError:
        return False
    lines = head.splitlines()
    first = lines[0].strip().lower() if lines else ""
    if first.startswith("<!--"):
        return first.startswith(f"<!-- {CALIBRATE_HEADER}".lower())
    if first.startswith("<!doctype html>"):
        return LEGACY_REPORT in head[:4096]
    for line in lines[:80]:
        text = line.strip()
        if not text:
            continue
        if not text.startswith("#"):
            return False
        if text.lstrip("#").strip().startswith(CALIBRATE_HEADER):
            return True
    return False


def check_out_file(path: str | Path, label: str | None = None) -> None:
    """Raise InputError unless `path` is new or a file `sufficiency calibrate` wrote, in a folder that can be
    written (created if need be)."""
    path = Path(path)
    label = label or f"--out {path}"
    absolute = _absolute(path)
    info = _lstat(absolute, label)
    if info is None:
        _check_can_create(absolute, label)
        return
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"{label}: is a symbolic link; expected a file (give the path it points to)")
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{label}: is a folder; {EXPECTED_FILE}")
    if not stat.S_ISREG(info.st_mode) or not written_by_calibrate(absolute):
        raise InputError(
            f"{label}: the file was not written by `{TOOL} calibrate` (no '{CALIBRATE_HEADER}' line at its top); "
            f"{EXPECTED_FILE}"
        )
    _check_writable(absolute.parent, label)


def replace_file(path: str | Path, text: str, label: str | None = None) -> None:
    """Write `text` to `path` through a sibling temporary file and `os.replace`, once `check_out_file` passes.

    Validate the text first (for a scenario, `load_scenario_text(text, path)`) so that messages name `path`.
    """
    path = Path(path)
    label = label or f"--out {path}"
    absolute = _absolute(path)
    check_out_file(path, label)
    _make_folders(absolute.parent, label)
    recover(absolute.parent)
    temporary = _sibling(absolute, "tmp")
    try:
        with open(temporary, "x", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        _step("file_written")
        if temporary.read_text(encoding="utf-8") != text:
            raise InputError(f"{label}: could not be written (what was read back differs)")
        check_out_file(path, label)  # again, just before replacing
        os.replace(temporary, absolute)
        _step("file_replaced")
    except OSError as error:
        raise InputError(f"{label}: could not be written ({_reason(error)})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


# ---------------------------------------------------------------------------------------------- helpers


def _absolute(path: Path) -> Path:
    """Absolute, with `.` and `..` resolved by name (a symbolic link at the end stays a link)."""
    return Path(os.path.abspath(path))


def _lstat(path: Path, label: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        _check_can_create(path, label)  # names the file standing in for a folder
        raise InputError(f"{label}: a part of the path is a file, not a folder") from None
    except OSError as error:
        raise InputError(f"{label}: cannot be read ({_reason(error)})") from None


def _check_can_create(path: Path, label: str) -> None:
    """The nearest existing folder above `path` must be a folder this process can write in."""
    ancestor = path.parent
    while True:
        try:
            info = os.stat(ancestor)  # follows links: a linked folder is a folder
            break
        except (FileNotFoundError, NotADirectoryError):
            ancestor = ancestor.parent
        except OSError as error:
            raise InputError(f"{label}: cannot reach {ancestor} ({_reason(error)})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{label}: {ancestor} is a file, not a folder; expected a path whose folders can be created")
    _check_writable(ancestor, label)


def _check_writable(folder: Path, label: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{label}: cannot write in {folder} (permission denied)")


def _make_folders(folder: Path, label: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{label}: cannot create the folder {folder} ({_reason(error)})") from None


def _holds_working_folder(path: Path) -> bool:
    try:
        here = Path.cwd().resolve()
        real = path.resolve()
    except OSError:
        return False
    return here == real or real in here.parents


def _sibling(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.sufficiency-{kind}-{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}")


def _host_tag() -> str:
    """Six hex digits of the host name: a pid says whether a writer is alive only on its own machine."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _alive(pid: int) -> bool:
    """Whether a process of this machine is running; True when it cannot be told (never delete then)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # os.kill(pid, 0) is not a harmless probe on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, another user's
    return True


def _command_line() -> str | None:
    """The command as typed, when this process is the `sufficiency` command."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if program is not None and (program.name == TOOL or program.parts[-2:] == ("sim", "cli.py")):
        return shlex.join([TOOL, *sys.argv[1:]])
    return None


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()
