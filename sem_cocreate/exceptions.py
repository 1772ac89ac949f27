"""One small hierarchy of errors the user can fix, and our own warning classes.

The CLI turns every :class:`SemCocreateError` into a one-line message on stderr and exit
status 2; :class:`FitError` (not converged, not identified) gives exit status 3.
"""


class SemCocreateError(Exception):
    """Base for errors the user can fix."""

    exit_code = 2


class InputFileError(SemCocreateError, FileNotFoundError):
    """An input file is missing, unreadable or of an unknown format."""


class DataError(SemCocreateError, ValueError):
    """Responses do not match the instrument or model (columns, values, types)."""


class InstrumentError(SemCocreateError, ValueError):
    """A questionnaire (instrument) file does not follow the schema."""


class ModelSyntaxError(SemCocreateError, ValueError):
    """A lavaan-syntax model cannot be parsed or refers to unknown variables."""


class OptionError(SemCocreateError, ValueError):
    """A command-line option or keyword argument has an invalid value or combination."""


class OutputError(SemCocreateError, OSError):
    """The results folder cannot be written (exists and not empty, or is an input)."""


class FitError(SemCocreateError, RuntimeError):
    """The model did not converge or is not identified."""

    exit_code = 3


class SemCocreateWarning(UserWarning):
    """Base of the package's warnings: ``warnings.simplefilter("ignore", SemCocreateWarning)`` silences all.

    A warning raised while a study runs is captured once for the whole study and becomes a note
    (``notes.json``, the report) that says which model or analysis it concerns.
    """


class FitWarning(SemCocreateWarning):
    """Non-convergence, Heywood case, non-positive-definite matrix."""


class DataWarning(SemCocreateWarning):
    """Something in the data deserves attention but is not an error."""
