"""Errors a user can fix: each carries a one-line message and ends the CLI with status 2.

The base class and DataError are the wire vocabulary's (`shared.wire`), so a CSV the producer's
tables refuse ends a detector command the same way.
"""

from shared.wire import DataError, InputError

DetectorError = InputError

__all__ = ["BundleError", "ConfigError", "DataError", "DetectorError", "NotAllowed"]


class BundleError(DetectorError):
    """The model bundle is missing, corrupt or does not match the data."""


class ConfigError(DetectorError):
    """A command-line option or environment variable is wrong."""


class NotAllowed(DetectorError):
    """The broker refuses this client something it needs (an ACL is missing): exit status 3."""

    exit_code = 3
