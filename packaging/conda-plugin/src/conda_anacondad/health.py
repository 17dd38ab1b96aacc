"""``conda doctor``'s check and conda's error hints for anacondad.

The health check runs ``anacondactl --json doctor`` and shows its findings, one line each with
the command that fixes it; its fixer runs ``anacondactl --json doctor --fix --yes`` after
conda's own question. Both go through the plugin's one way of running anacondactl
(``anacondactl.py``). The error hint names the ``anacondactl`` command to run when conda's
request to a channel that our handler serves was refused (HTTP 401/403).
"""

import fnmatch
from typing import Iterator, List, Optional

from . import anacondactl
from .auth import HANDLER_NAME
from .errors import AnacondadAuthError

HEALTH_CHECK_NAME = "anacondad"
# `doctor` asks the service once per token; a service that is down costs one timeout.
DOCTOR_TIMEOUT_SECONDS = 60.0
_SLOW = "for `doctor`: see `anacondactl daemon status`"

_OK_MARK = "\u2705"
_WARN_MARK = "\u26a0\ufe0f"
_X_MARK = "\u274c"


def _doctor_report(*args: str) -> dict:
    """``anacondactl --json doctor ARGS``'s report (printed also when a check fails); raises
    AnacondadAuthError with anacondactl's own message when there is none."""
    try:
        report = anacondactl.run(["doctor", *args], DOCTOR_TIMEOUT_SECONDS, _SLOW)
    except anacondactl.Failed as failure:
        raise AnacondadAuthError(f"`anacondactl doctor` failed: {failure.message}") from None
    if not isinstance(report.get("checks"), list):
        raise AnacondadAuthError("`anacondactl doctor --json` printed no report")
    return report


def report_lines(report: dict, verbose: bool = True) -> List[str]:
    """The findings as conda doctor shows its own: a mark, the section, the evidence; the fix
    on the next line for each that is not ok. Without `verbose`, only those not ok."""
    marks = {"ok": _OK_MARK, "warn": _WARN_MARK, "fail": _X_MARK}
    lines = []
    for check in report.get("checks", []):
        state = check.get("state", "fail")
        if state == "ok" and not verbose:
            continue
        lines.append(
            f"{marks.get(state, _X_MARK)} anacondad {check.get('section', '')}: "
            f"{check.get('evidence', '')}"
        )
        if state != "ok" and check.get("fix"):
            lines.append(f"    fix: {check['fix']}")
    lines.append(
        f"anacondad: {report.get('ok', 0)} ok, {report.get('warn', 0)} warning(s), "
        f"{report.get('fail', 0)} failure(s)"
    )
    return lines


def health_check(prefix: str, verbose: bool) -> None:
    """conda doctor's action: prints anacondactl doctor's findings (only the ones that are not
    ok, unless ``--verbose``)."""
    try:
        report = _doctor_report()
    except AnacondadAuthError as exc:
        print(f"{_X_MARK} anacondad: {exc}\n")
        return
    print("\n".join(report_lines(report, verbose)) + "\n")


def health_fix(prefix: str, args, confirm) -> int:
    """conda doctor --fix: applies anacondactl's safe fixes (conda's configuration) and shows
    the checks as they stand after."""
    confirm("Let anacondactl fix conda's configuration for the Anaconda repository?")
    try:
        report = _doctor_report("--fix", "--yes")
    except AnacondadAuthError as exc:
        print(f"{_X_MARK} anacondad: {exc}")
        return 1
    for fixed in report.get("fixed") or []:
        print(f"{_OK_MARK} anacondad: fixed: {fixed}")
    print("\n".join(report_lines(report)) + "\n")
    return 0 if report.get("fail", 0) == 0 else 1


def _our_channel_globs() -> List[str]:
    """The ``channel`` globs of the ``channel_settings`` entries that name our handler."""
    from conda.base.context import context

    return [
        str(entry.get("channel", ""))
        for entry in (context.channel_settings or ())
        if entry.get("auth") == HANDLER_NAME and entry.get("channel")
    ]


def _refused_url(error) -> Optional[str]:
    """The URL of a 401/403 answer conda reports, if ``error`` is one: conda's own HTTP error,
    or ours (raised by the handler when no credential got past the repository)."""
    if isinstance(error, AnacondadAuthError):
        return error.refused_url if error.refused_status in (401, 403) else None
    kwargs = getattr(error, "_kwargs", None) or {}
    status = kwargs.get("status_code", getattr(error, "status_code", None))
    if str(status) not in ("401", "403"):
        return None
    url = kwargs.get("url") or getattr(error, "url", None)
    if not url:
        url = kwargs.get("channel_url") or getattr(error, "channel_url", None)
    return str(url) if url else None


def error_hints(error) -> Iterator:
    """Names the anacondactl command to run when a request our handler served was refused."""
    from conda.plugins.types import CondaErrorHint

    url = _refused_url(error)
    if url is None:
        return
    if not any(fnmatch.fnmatch(url, glob) for glob in _our_channel_globs()):
        return
    yield CondaErrorHint(
        text=(
            "The Anaconda repository refused the credential anacondad sent. Run "
            "`anacondactl doctor` to see why and the command that fixes it."
        ),
        hint_code="anacondad_credential_refused",
    )
