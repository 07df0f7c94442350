"""Errors a user can fix: each carries a one-line message and ends the CLI with status 2."""


class DetectorError(Exception):
    """A problem with the user's input or configuration, said in one line."""

    exit_code = 2


class DataError(DetectorError):
    """The input data cannot be used (NaN cells, no channels, too few rows...)."""


class BundleError(DetectorError):
    """The model bundle is missing, corrupt or does not match the data."""


class ConfigError(DetectorError):
    """A command-line option or environment variable is wrong."""
