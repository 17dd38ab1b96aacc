"""conda auth handler backed by the anacondad daemon.

conda asks the handler for every request to a channel configured with ``auth: anacondad``; the
handler asks the daemon (through ``anacondactl credential get``) which Authorization header the
request URL needs, caches the answer briefly, and on a 401/403 fetches a fresh one and replays
the request once.

The package also carries the keyring backend (``conda_anacondad.keyring``) that keyring loads
in every program of this environment: its names below are imported on first use, so that
backend does not load the handler (and ``requests``) with it.
"""

__all__ = ["HANDLER_NAME", "AnacondadAuth", "AnacondadAuthError", "clear_cache"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("HANDLER_NAME", "AnacondadAuth", "clear_cache"):
        from . import auth

        return getattr(auth, name)
    if name == "AnacondadAuthError":
        from .errors import AnacondadAuthError

        return AnacondadAuthError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
