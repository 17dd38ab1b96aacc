"""conda auth handler backed by the anacondad daemon.

conda asks the handler for every request to a channel configured with ``auth: anacondad``; the
handler asks the daemon (through ``anacondactl credential get``) which Authorization header the
request URL needs, caches the answer briefly, and on a 401/403 fetches a fresh one and replays
the request once.
"""

from .auth import HANDLER_NAME, AnacondadAuth, clear_cache
from .errors import AnacondadAuthError

__all__ = ["HANDLER_NAME", "AnacondadAuth", "AnacondadAuthError", "clear_cache"]
__version__ = "0.1.0"
