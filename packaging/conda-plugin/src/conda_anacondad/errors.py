"""The one error type of the plugin: a CondaError when conda is present, so conda prints the
message (which always says what to run next) instead of its long error report."""

try:  # conda is optional: the plugin is also usable, and tested, with plain requests.
    from conda.exceptions import CondaError as _Base

    _CONDA = True
except ImportError:  # pragma: no cover - depends on the environment
    _Base = Exception
    _CONDA = False


class AnacondadAuthError(_Base):
    """No usable credential for a request. The message names the command that fixes it and
    never contains a secret."""

    def __init__(self, message: str) -> None:
        self.plain_message = message
        if _CONDA:
            # CondaError formats its message with `%`; a literal `%` (e.g. in a quoted URL)
            # must not be taken for a placeholder.
            super().__init__(message.replace("%", "%%"))
        else:
            super().__init__(message)

    def __str__(self) -> str:
        return self.plain_message
