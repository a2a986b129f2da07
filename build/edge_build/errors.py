"""The one error type the build raises for problems a user can fix (the CLI prints it in one line)."""

from __future__ import annotations


class BuildError(Exception):
    """A build step failed for a reason worth telling the user plainly (bad model layout, bad config...)."""
