"""The errors the command line turns into one line and an exit code; light to import.

``UsageError`` (exit 2) is an invalid argument or input file; ``StudyError`` (exit 1) is a
storage, study or report problem the user can fix. Anything else is a bug, and shows its
traceback.
"""

from __future__ import annotations


class UsageError(ValueError):
    """An argument or input file that cannot be used as given; the message says what to give."""


class StudyError(RuntimeError):
    """A problem the user can fix: bad storage, or a study that does not match this run."""


class ReportError(StudyError):
    """The report cannot be written; the message says what to install or change."""
