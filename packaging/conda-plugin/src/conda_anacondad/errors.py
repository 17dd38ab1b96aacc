"""The one error type of the plugin: a CondaError when conda is present, so conda prints the
message (which always says what to run next) instead of its long error report."""

from typing import Optional

try:  # conda is optional: the plugin is also usable, and tested, with plain requests.
    from conda.exceptions import CondaError as _Base

    _CONDA = True
except ImportError:  # pragma: no cover - depends on the environment
    _Base = Exception
    _CONDA = False


class AnacondadAuthError(_Base):
    """No usable credential for a request. The message names the command that fixes it and
    never contains a secret. When the repository refused the request, `refused_url` (redacted)
    and `refused_status` say so, for conda's error hint."""

    def __init__(
        self,
        message: str,
        refused_url: Optional[str] = None,
        refused_status: Optional[int] = None,
    ) -> None:
        self.plain_message = message
        self.refused_url = refused_url
        self.refused_status = refused_status
        if _CONDA:
            # CondaError formats its message with `%`; a literal `%` (e.g. in a quoted URL)
            # must not be taken for a placeholder.
            super().__init__(message.replace("%", "%%"))
        else:
            super().__init__(message)

    def __str__(self) -> str:
        return self.plain_message
