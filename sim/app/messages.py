"""What the page says when something fails: one line, never a traceback, and text shown as it was written.

Why here and not in the page: the page module runs when imported, so these are tested on their own. Bad input
(`InputError`: an upload, a lever, a run over the app's work limits) shows the message the command line would
print after `error:`. Anything else shows a short generic line; the server's log gets its type and where it
was raised, but not its message, which may quote an upload (and so a child's row).
"""

from __future__ import annotations

import logging
import re
import traceback

from sim.engine.errors import InputError

UNEXPECTED = "something unexpected went wrong ({kind}); nothing was changed. Try again, or ask whoever runs the app."
MARKDOWN = re.compile(r"([\\`*_{}\[\]<>#|~$!])")  # characters Streamlit's markdown would make markup of
LOG = logging.getLogger("sim.app")


def problem(what: str, error: Exception) -> str:
    """`what` failed, and why: the command line's message for bad input, or a generic line (logged)."""
    if isinstance(error, InputError):
        return f"{what}: {plain(str(error))}"
    frames = "".join(traceback.format_tb(error.__traceback__))
    LOG.error("%s: unexpected %s, raised at\n%s", what, type(error).__name__, frames)
    return f"{what}: {UNEXPECTED.format(kind=type(error).__name__)}"


def plain(text: str) -> str:
    """Text that Streamlit's markdown shows as written: no link, image, emphasis or formula is made of it, and
    a message of several lines (one per key path) keeps its line breaks."""
    return MARKDOWN.sub(r"\\\1", text).replace("\n", "  \n")
