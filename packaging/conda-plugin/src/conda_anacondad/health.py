"""``conda doctor``'s check and conda's error hints for anacondad.

The health check runs ``anacondactl doctor --json`` and shows its findings, one line each with
the command that fixes it; its fixer runs ``anacondactl doctor --fix --yes`` after conda's own
question. The error hint names the ``anacondactl`` command to run when conda's request to a
channel that our handler serves was refused (HTTP 401/403).
"""

import fnmatch
import json
import re
import subprocess
from typing import Iterator, List, Optional

from .auth import HANDLER_NAME, _anacondactl
from .errors import AnacondadAuthError

HEALTH_CHECK_NAME = "anacondad"
# `doctor` asks the service once per token; a service that is down costs one timeout.
DOCTOR_TIMEOUT_SECONDS = 60.0
_EXIT_DOCTOR_FAILED = 9

_OK_MARK = "\u2705"
_WARN_MARK = "\u26a0\ufe0f"
_X_MARK = "\u274c"


def _doctor_report() -> dict:
    """``anacondactl doctor --json``'s report; raises AnacondadAuthError saying why not."""
    command = [_anacondactl(), "doctor", "--json"]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=DOCTOR_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AnacondadAuthError(f"`anacondactl doctor` could not run: {exc}") from exc
    if done.returncode not in (0, _EXIT_DOCTOR_FAILED):
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise AnacondadAuthError(
            f"`anacondactl doctor` failed (exit {done.returncode}): "
            f"{reason[-1] if reason else 'no output'}"
        )
    try:
        return json.loads(done.stdout)
    except ValueError as exc:
        raise AnacondadAuthError(f"`anacondactl doctor --json` printed no JSON ({exc})") from exc


def report_lines(report: dict) -> List[str]:
    """The findings as conda doctor shows its own: a mark, the section, the evidence; the fix
    on the next line for each that is not ok."""
    marks = {"ok": _OK_MARK, "warn": _WARN_MARK, "fail": _X_MARK}
    lines = []
    for check in report.get("checks", []):
        state = check.get("state", "fail")
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
    lines = report_lines(report)
    if not verbose:
        keep = []
        for line in lines:
            if line.startswith(_OK_MARK):
                continue
            keep.append(line)
        lines = keep
    print("\n".join(lines) + "\n")


def health_fix(prefix: str, args, confirm) -> int:
    """conda doctor --fix: applies anacondactl's safe fixes (conda's configuration)."""
    confirm("Let anacondactl fix conda's configuration for the Anaconda repository?")
    try:
        done = subprocess.run(
            [_anacondactl(), "doctor", "--fix", "--yes"],
            stdin=subprocess.DEVNULL,
            timeout=DOCTOR_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired, AnacondadAuthError) as exc:
        print(f"{_X_MARK} anacondad: `anacondactl doctor --fix` could not run: {exc}")
        return 1
    return 0 if done.returncode == 0 else 1


def _our_channel_globs() -> List[str]:
    """The ``channel`` globs of the ``channel_settings`` entries that name our handler."""
    from conda.base.context import context

    return [
        str(entry.get("channel", ""))
        for entry in (context.channel_settings or ())
        if entry.get("auth") == HANDLER_NAME and entry.get("channel")
    ]


_REFUSED = re.compile(r"\(HTTP (401|403)\)")
_URL = re.compile(r"https?://[^\s<>'\"]+")


def _refused_url(error) -> Optional[str]:
    """The URL of a 401/403 answer conda reports, if ``error`` is one: conda's own HTTP error,
    or ours (raised by the handler when the replacement credential was refused too)."""
    if isinstance(error, AnacondadAuthError):
        text = str(error)
        found = _URL.search(text)
        if _REFUSED.search(text) and found:
            return found.group(0).rstrip(".,;:)")
        return None
    kwargs = getattr(error, "_kwargs", None) or {}
    status = kwargs.get("status_code", getattr(error, "status_code", None))
    if str(status) not in ("401", "403"):
        return None
    url = kwargs.get("url") or getattr(error, "url", None)
    if not url:
        channel = kwargs.get("channel_url") or getattr(error, "channel_url", None)
        url = channel
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
            "`anacondactl doctor` to see why and the command that fixes it (often "
            "`anacondactl token refresh --org <org>` or `anacondactl login`)."
        ),
        hint_code="anacondad_credential_refused",
    )
