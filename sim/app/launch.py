"""`sufficiency app`: start Streamlit on the workshop page, safe by default.

It listens on this machine only (127.0.0.1) unless `--host` says otherwise, caps uploads at the size the page
accepts, shows no exception details (the page shows the one-line message the command line would print, and
an unexpected error a short generic line), sends no usage statistics and watches no files. Streamlit is an
optional extra, so this module does not import it: the other commands work without it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from sim.app.uploads import MAX_UPLOAD_MB

PAGE = Path(__file__).resolve().parent / "streamlit_app.py"
LOCALHOST = ("127.0.0.1", "localhost", "::1")
SHOW_ERROR_DETAILS = "none"  # an exception that escapes the page shows neither message, type nor traceback
MISSING = (
    "error: the workshop app needs Streamlit, an optional extra: pip install care-sufficiency-simulator[app] "
    "(or `make app`, which installs it)"
)


def streamlit_command(host: str, port: int, jobs: int) -> list[str]:
    """The `streamlit run` command line for the page; options after `--` go to the page itself."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PAGE),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        # Not "false": Streamlit (1.67) reads the legacy false as "stacktrace", which still shows the traceback.
        "--client.showErrorDetails",
        SHOW_ERROR_DETAILS,
        "--",
        "--jobs",
        str(jobs),
    ]


def launch(host: str, port: int, jobs: int) -> int:
    """Replace this process by Streamlit (so stopping this process stops the server); returns 1 without Streamlit."""
    if importlib.util.find_spec("streamlit") is None:
        print(MISSING, file=sys.stderr)
        return 1
    if host not in LOCALHOST:
        print(
            f"warning: listening on {host}: anyone who can reach this machine on port {port} can use the app",
            file=sys.stderr,
        )
    print(f"Workshop app: http://{'localhost' if host in LOCALHOST else host}:{port} (Ctrl+C to stop)", flush=True)
    command = streamlit_command(host, port, jobs)
    os.execv(command[0], command)
