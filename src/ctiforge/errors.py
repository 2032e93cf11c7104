"""Exceptions that the command line shows as a one-line message with exit status 2.

Raise a subclass of `CtiforgeError` for anything the user can fix (a bad
file, a bad option, a missing optional package). Bugs stay ordinary
exceptions and keep their traceback.
"""

from __future__ import annotations


class CtiforgeError(Exception):
    """A problem the user can fix; the message names the value and the fix."""

    exit_code = 2


class DataFormatError(CtiforgeError):
    """An input file is missing, unreadable or not in the expected format."""


class ConfigError(CtiforgeError):
    """A configuration file or option is invalid; the message lists every problem."""


class UnknownIdError(CtiforgeError):
    """An identifier (CWE, ATT&CK technique, task name) is not known."""


class MissingDependencyError(CtiforgeError):
    """An optional package is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{feature} needs the Python package '{package}', which is not installed; "
            f"install it with: pip install 'ctiforge[{extra}]'"
        )


class BackendError(CtiforgeError):
    """A model backend failed in a way that retrying will not fix."""


def require(module: str, *, package: str | None = None, extra: str, feature: str):
    """Import and return an optional module, or raise `MissingDependencyError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(package or module, extra, feature) from exc
