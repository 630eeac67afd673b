"""Expected failures. The CLI prints their message on one line and exits with ``exit_code``."""


class MedsegkitError(Exception):
    """A runtime failure the user can act on (bad file, broken plugin); exit code 1."""

    exit_code = 1


class UsageError(MedsegkitError):
    """The command was asked for something that cannot exist (unknown name, bad option); exit code 2."""

    exit_code = 2


class DataError(MedsegkitError):
    """An input file or folder is missing, unreadable or not what its layout promises; exit code 1."""
