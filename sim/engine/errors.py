"""The one family of errors a user sees as a single line: bad input, a bad option, or an environment problem.

The command line catches `InputError` at its boundary and prints `error: <message>` with exit code 2; the
workshop app shows the same line on the page. Messages name the file, key, option or row and what was
expected, and never a value read from a child-level file.
"""

from __future__ import annotations


class InputError(Exception):
    """Input, an option or the environment (an unwritable folder, an unreachable scheduler) cannot be used."""
