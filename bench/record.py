"""The benchmark's figures as data: what `sufficiency bench` prints, and what `--json FILE` writes.

Kept apart from the timing code (and free of the engine's imports) so that tools/bench_table.py can read a
JSON file of an earlier run, on any machine, without simulating anything. Successive runs' files can be compared
figure by figure: each figure has a stable name, a headline value with its unit, its target and whether it was met.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sim.engine.errors import InputError

NOT_BUILT = "not built"
FORMAT = 1  # the JSON layout's version: bumped when a key changes meaning


@dataclass(frozen=True)
class Figure:
    """One printed figure. `result` is the full text printed; `headline` the short form a table shows; `value`
    the number the target is about (None when the figure is not built); `details` every other number, named."""

    name: str
    result: str
    target: str = ""
    met: bool | None = None
    value: float | None = None
    unit: str = ""
    headline: str = ""
    details: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        verdict = "" if self.met is None else ("  [target met]" if self.met else "  [target MISSED]")
        target = f"  (target {self.target})" if self.target else ""
        return f"- {self.name}: {self.result}{target}{verdict}"

    @property
    def built(self) -> bool:
        return not self.result.startswith(NOT_BUILT)

    def as_json(self) -> dict[str, Any]:
        value = None if self.value is None else float(self.value)  # numpy numbers as JSON's own
        details = {key: float(number) for key, number in self.details.items()}
        return {**asdict(self), "value": value, "details": details, "line": self.line()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        return cls(**{key: value for key, value in data.items() if key != "line"})


def not_built(name: str, target: str, why: str) -> Figure:
    """A figure whose feature is not in this checkout: printed and written as such, never as a made-up number."""
    return Figure(name, f"{NOT_BUILT} ({why})", target, headline=NOT_BUILT)


def machine(jobs: int, quick: bool) -> dict[str, Any]:
    """Where and when the figures were measured, so that two runs' files say whether they are comparable."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if (status := _git("status", "--porcelain")) is None else bool(status),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "jobs": jobs,
        "quick": quick,
    }


def machine_line(about: dict[str, Any]) -> str:
    return f"machine: {about['machine']}, {about['cpu_count']} cores, Python {about['python']}, {about['jobs']} jobs"


def _git(*arguments: str) -> str | None:
    """A git answer about this checkout, or None where git or the repository is missing (an installed copy)."""
    try:
        done = subprocess.run(
            ["git", *arguments], capture_output=True, text=True, check=False, cwd=Path(__file__).parent, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def document(about: dict[str, Any], figures: list[Figure]) -> dict[str, Any]:
    return {"format": FORMAT, "tool": "sufficiency bench", "machine": about, "figures": [f.as_json() for f in figures]}


def check_json_path(path: Path) -> None:
    """Refuse, before any timing starts, a --json path that could not be written at the end (InputError: exit 2)."""
    label = f"--json {path}"
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{label}: is a folder; expected a file name (the folder must exist, the file need not)")
    if not folder.is_dir():
        raise InputError(f"{label}: the folder {folder} does not exist; expected a file in an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{label}: the folder {folder} cannot be written in")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write through a temporary sibling and os.replace: the file is the whole document or what was there before."""
    check_json_path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise InputError(f"--json {path}: could not be written ({error.strerror or error})") from None
    finally:
        temporary.unlink(missing_ok=True)


def read_json(path: Path) -> tuple[dict[str, Any], list[Figure]]:
    """The machine and the figures of a file `write_json` wrote; InputError if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data["machine"], [Figure.from_json(entry) for entry in data["figures"]]
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a `sufficiency bench --json` file ({type(error).__name__}: {error})") from None
