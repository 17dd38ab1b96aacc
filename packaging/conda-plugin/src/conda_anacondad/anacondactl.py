"""Running ``anacondactl``: finding it, the one way the plugin runs it (``--json``, with a
deadline), and reading its answer or its error.

What ``anacondactl --json`` prints is its contract (docs/json.md in the anacondad sources): an
answer object, or on failure ``{"error": message, "reason": code, "exit_code": n}``. The
plugin passes ``error`` on as the message and branches on ``reason`` only; it keeps no table of
exit codes and does not read meaning into the message's words.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .errors import AnacondadAuthError

#: Environment variable naming the `anacondactl` to run.
ANACONDACTL_ENV = "ANACONDACTL"

#: Reasons of `anacondactl`'s JSON error that concern every request, not one URL: the daemon
#: or the login. The others (`nothing_stored`, `no_token_for_org`, `rejected`, ...) concern the
#: URL asked about. The last three are the plugin's own, for when no answer came back.
REASONS_FOR_EVERY_URL = frozenset(
    {
        "daemon_unavailable",
        "unresponsive",
        "login_required",
        "protocol_mismatch",
        "anacondactl_missing",
        "unreadable_answer",
    }
)


class Failed(Exception):
    """Why `anacondactl` gave no answer: its own JSON error, or what the plugin saw instead."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason

    @property
    def everywhere(self) -> bool:
        """True when the failure concerns every URL (see REASONS_FOR_EVERY_URL)."""
        return self.reason in REASONS_FOR_EVERY_URL


def program() -> str:
    """The `anacondactl` to run: $ANACONDACTL, else the one on PATH, else the one installed
    into conda's own environment."""
    configured = os.environ.get(ANACONDACTL_ENV)
    if configured:
        return configured
    found = shutil.which("anacondactl") or _beside_python()
    if found is None:
        raise AnacondadAuthError(
            "anacondactl was not found on PATH: install anacondad, or set "
            f"{ANACONDACTL_ENV} to the path of anacondactl"
        )
    return found


def _beside_python() -> Optional[str]:
    """`anacondactl` installed into conda's own environment, which need not be on PATH (conda
    run from its full path, or from a shortcut, on Windows): `Library\\bin` and `Scripts` of
    the prefix on Windows (where `shutil.which` also finds `anacondactl.exe` through PATHEXT),
    `bin` elsewhere."""
    prefix = Path(sys.prefix)
    if os.name == "nt":
        candidates = [
            prefix / "Library" / "bin" / "anacondactl.exe",
            prefix / "Scripts" / "anacondactl.exe",
        ]
    else:
        candidates = [prefix / "bin" / "anacondactl"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _json_object(text: str) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def run(
    args: Sequence[str],
    timeout: float,
    slow: str,
    grace: float = 0.0,
    stdin: Optional[str] = None,
) -> Dict[str, Any]:
    """`anacondactl --json ARGS`, ended after `timeout` seconds (and `grace` more for an
    `anacondactl` that keeps a deadline of its own): its answer, a JSON object (also when it
    exits non-zero after printing one, as `doctor` does with a failing check). Raises Failed
    with `anacondactl`'s own error, or with what went wrong running it; `slow` says what was
    asked and what to do when it did not answer in time. `stdin` is written to its standard
    input (a secret goes there, never into its arguments). Nothing it prints is logged."""
    try:
        command: List[str] = [program(), "--json", *args]
    except AnacondadAuthError as e:
        raise Failed(str(e), "anacondactl_missing") from None
    try:
        done = subprocess.run(
            command,
            **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}),
            capture_output=True,
            timeout=timeout + grace,
            text=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Failed(
            f"anacondad is unreachable: anacondactl did not answer within {timeout:g} s {slow}",
            "unresponsive",
        ) from None
    except OSError as e:
        raise Failed(
            f"cannot run {command[0]} ({e.strerror or e}): install anacondad, or set "
            f"{ANACONDACTL_ENV} to the path of anacondactl",
            "anacondactl_missing",
        ) from None
    answer = _json_object(done.stdout)
    if answer is not None and "error" in answer and "reason" in answer:
        raise Failed(str(answer["error"]), str(answer["reason"]))
    if answer is not None:
        return answer
    said = done.stderr.strip().splitlines()
    raise Failed(
        f"anacondactl gave no answer the plugin understands (exit {done.returncode}"
        f"{': ' + said[-1][:500] if said else ''}): make sure anacondactl and this plugin "
        "come from the same anacondad release (`pip install --upgrade anacondad`, or "
        "`conda update anacondad`)",
        "unreadable_answer",
    )
