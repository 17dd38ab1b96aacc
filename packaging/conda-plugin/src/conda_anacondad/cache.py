"""The credentials of this process: asked of the daemon (``anacondactl credential get``, or
``credential rejected`` after a refusal), cached for the URL prefix the daemon says they cover,
and failures remembered briefly.

conda calls handlers from many threads, so the cache lives at module level behind a lock.
Lookups for one directory are made one at a time, so a burst of requests costs one
``anacondactl`` call; every lookup has a deadline, and a failure is remembered briefly, so a
daemon that is down or hung fails a conda command once, in seconds. A lookup also asks for the
other URLs the caller expects to fetch with the same entry settings (``--also``; the channels
a conda command searches, ``searched.py``) and caches their answers as if each had been asked
alone, so a conda command costs one ``anacondactl`` process, not one per channel.
"""

import hashlib
import logging
import os
import threading
import time
from datetime import datetime
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import urlsplit, urlunsplit

from . import anacondactl
from .entry import NO_SETTINGS, EntrySettings
from .errors import AnacondadAuthError

log = logging.getLogger("conda_anacondad")

#: How long an answer is reused at most, so a token the daemon renewed is picked up soon even
#: when the old one has not been rejected yet.
CACHE_TTL_SECONDS = 60.0
#: How long a failed lookup is remembered: long enough that one conda command (which may ask
#: for a dozen URLs) fails once, short enough that a long-lived process tries again soon after
#: the user ran the command the message names.
FAILURE_MEMORY_SECONDS = 10.0
#: The whole lookup, starting the daemon included (`anacondactl credential get --timeout-ms`).
#: A running daemon answers in milliseconds and a started one is ready within 2 s; a hung one
#: must cost a conda command seconds, not minutes.
DEFAULT_TIMEOUT_SECONDS = 5.0
#: Extra time given to the `anacondactl` process beyond its own deadline before it is killed.
_PROCESS_GRACE_SECONDS = 2.0
#: Environment variable: the lookup deadline in seconds.
TIMEOUT_ENV = "CONDA_ANACONDAD_TIMEOUT"


class Credential(NamedTuple):
    header_value: str
    #: `repo_token` or `api_key`, as the daemon said.
    kind: str
    org: str
    #: The URL prefix the answer covers (the daemon's `scope`, else the request's directory).
    scope: str
    #: `time.monotonic()` after which the answer must be asked for again.
    fresh_until: float

    def __repr__(self) -> str:  # the header is a secret: keep it out of any log or traceback
        return f"Credential(kind={self.kind!r}, org={self.org!r}, header_value='****')"


class Refused(NamedTuple):
    """A credential the repository refused, named by its kind and the SHA-256 of its header."""

    status: int
    kind: str
    fingerprint: str


class NoReplacement(AnacondadAuthError):
    """The daemon has no other credential for a URL whose credential was just refused; the
    message is the daemon's."""


class _Failure(NamedTuple):
    """A lookup that failed, remembered so the next requests fail at once with the same words
    instead of each waiting on the daemon again."""

    message: str
    until: float


def redacted(url: str) -> str:
    """The URL without user info, query or fragment: what may be logged, shown or passed to
    `anacondactl` (the daemon needs only scheme, host and path)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, "", ""))


def _directory(url: str) -> str:
    """The redacted URL up to and including its last ``/``: what an answer without a scope
    covers, and the key that groups lookups and failures."""
    shown = redacted(url)
    return shown[: shown.rindex("/") + 1] if shown.count("/") > 2 else shown + "/"


class CredentialCache:
    """Credentials by the URL prefix the daemon said they cover, safe to share between threads.

    The plugin does not read meaning into URL paths: which credential a URL needs is the
    daemon's decision, and its answer says which prefix it holds for (``scope``). Until the
    first answer for a URL, lookups are grouped by the URL's directory.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: By the entry's settings and the scope; the longest scope that prefixes a URL serves
        #: it, for the same settings only.
        self._entries: Dict[Tuple[EntrySettings, str], Credential] = {}
        #: By the entry's settings and the directory of a URL whose lookup failed.
        self._failures: Dict[Tuple[EntrySettings, str], _Failure] = {}
        #: A failure that concerns every URL (the daemon unreachable or hung, not logged in).
        self._global_failure: Optional[_Failure] = None
        self._key_locks: Dict[Tuple[EntrySettings, str], threading.Lock] = {}
        #: Held for a lookup until one has succeeded in this process: the first lookup may
        #: start the daemon (one start, not one per thread), and when the daemon is hung only
        #: one thread waits out the deadline while the others get the remembered failure.
        self._first_lookup = threading.Lock()
        self._daemon_answered = False

        #: False once this `anacondactl` refused `--also` (an older one): ask one URL at a time.
        self._also_understood = True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._failures.clear()
            self._global_failure = None
            self._daemon_answered = False
            self._also_understood = True

    def _cached(self, url: str, settings: EntrySettings) -> Optional[Credential]:
        url = redacted(url)
        now = time.monotonic()
        with self._lock:
            best = None
            for key, entry in list(self._entries.items()):
                if entry.fresh_until <= now:
                    del self._entries[key]
                elif (
                    key[0] == settings
                    and url.startswith(entry.scope)
                    and (best is None or len(entry.scope) > len(best.scope))
                ):
                    best = entry
            return best

    def _remembered_failure(self, key) -> Optional[str]:
        now = time.monotonic()
        with self._lock:
            for failure in (self._global_failure, self._failures.get(key)):
                if failure is not None and failure.until > now:
                    return failure.message
            return None

    def _key_lock(self, key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(
        self,
        url: str,
        settings: EntrySettings = NO_SETTINGS,
        expected: Callable[[], Sequence[Tuple[str, EntrySettings]]] = lambda: (),
    ) -> Credential:
        """The credential for `url`; a lookup also asks for the `expected` URLs of the same
        settings that no fresh answer covers yet."""
        entry = self._cached(url, settings)
        if entry is not None:
            return entry
        key = (settings, _directory(url))
        # One lookup per key at a time: the threads that waited find the answer cached.
        with self._key_lock(key):
            return self._lookup(url, key, None, expected=expected)

    def renew(
        self, url: str, rejected: Credential, status: int, settings: EntrySettings = NO_SETTINGS
    ) -> Credential:
        """A credential after `rejected` was refused with `status`: the cached one when another
        thread has already replaced it, else the daemon's answer to the refusal (a newer token,
        or the other kind of credential). Raises NoReplacement when there is none."""
        key = (settings, _directory(url))
        with self._key_lock(key):
            entry = self._cached(url, settings)
            if entry is not None and entry.header_value != rejected.header_value:
                return entry
            if entry is not None:
                with self._lock:
                    self._entries.pop((settings, entry.scope), None)
            fingerprint = hashlib.sha256(rejected.header_value.encode("utf-8")).hexdigest()
            refused = Refused(status, rejected.kind, fingerprint)
            return self._lookup(url, key, refused, use_cache=False)

    def _known(self, url, key, use_cache: bool) -> Optional[Credential]:
        """The cached answer (when `use_cache`), or None; raises a remembered failure."""
        if use_cache:
            entry = self._cached(url, key[0])
            if entry is not None:
                return entry
        message = self._remembered_failure(key)
        if message is not None:
            raise AnacondadAuthError(message)
        return None

    def _lookup(
        self, url, key, refused: Optional[Refused], use_cache=True, expected=lambda: ()
    ) -> Credential:
        known = self._known(url, key, use_cache)
        if known is not None:
            return known
        if self._daemon_answered:
            return self._ask(url, key, refused, expected)
        with self._first_lookup:
            # Another thread may have got an answer, or a failure, while this one waited.
            known = self._known(url, key, use_cache)
            if known is not None:
                return known
            return self._ask(url, key, refused, expected)

    def _also(self, url: str, settings: EntrySettings, expected) -> List[str]:
        """The expected URLs of `settings` worth asking for with `url`: not `url`'s own
        directory, and not covered by a fresh answer."""
        if not self._also_understood:
            return []
        shown = redacted(url)
        also = []
        for other, other_settings in expected():
            if other_settings != settings or shown.startswith(other) or other in also:
                continue
            if self._cached(other, settings) is None:
                also.append(other)
        return also

    def _ask(self, url, key, refused: Optional[Refused], expected=lambda: ()) -> Credential:
        also = self._also(url, key[0], expected) if refused is None else []
        try:
            try:
                entry, others = ask_daemon(url, refused, key[0], also)
            except anacondactl.Failed as failure:
                if not (also and failure.reason == "usage"):
                    raise
                # An anacondactl older than this plugin: one URL at a time from now on.
                log.debug("anacondactl does not take --also: asking for each URL alone")
                self._also_understood = False
                entry, others = ask_daemon(url, refused, key[0])
        except anacondactl.Failed as failure:
            if refused is not None and not failure.everywhere:
                # Nothing to replace a refused credential with: the caller says it was refused
                # (not missing), and the next request may still ask again.
                raise NoReplacement(failure.message) from None
            message = failure.message
            if not failure.everywhere:
                message = f"anacondad has no credential for {redacted(url)}: {message}"
            until = time.monotonic() + FAILURE_MEMORY_SECONDS
            with self._lock:
                if failure.everywhere:
                    self._global_failure = _Failure(message, until)
                else:
                    self._failures[key] = _Failure(message, until)
            raise AnacondadAuthError(message) from None
        with self._lock:
            # The others first: the asked URL's own answer wins where scopes coincide.
            for other in (*others, entry):
                self._entries[(key[0], other.scope)] = other
            self._failures.pop(key, None)
            self._daemon_answered = True
        return entry


CACHE = CredentialCache()


def _timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise AnacondadAuthError(
            f"{TIMEOUT_ENV}={raw!r} is not a positive number of seconds: fix or unset it"
        )
    return value


def _seconds_left(expires_at) -> Optional[float]:
    """Seconds until an RFC 3339 time (`2026-12-01T10:00:00Z`), or None when there is none."""
    if not isinstance(expires_at, str):
        return None
    try:
        when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() - time.time()


def ask_daemon(
    url: str,
    refused: Optional[Refused] = None,
    settings: EntrySettings = NO_SETTINGS,
    also: Sequence[str] = (),
) -> Tuple[Credential, List[Credential]]:
    """One `anacondactl --json credential get URL [--also OTHER]...` (or, after a refusal,
    `credential rejected URL --status N --kind K`), with the entry's settings: the credential
    for `url`, and those the daemon had for the `also` URLs (the others are asked for again
    when they are requested). The URLs are not secret; the answers, which are, come back on
    stdout and are never logged. Raises anacondactl.Failed for `url`'s failure."""
    shown = redacted(url)
    try:
        timeout = _timeout()
    except AnacondadAuthError as e:
        raise anacondactl.Failed(str(e), "anacondactl_missing") from None
    log.debug("asking anacondad for the credential of %s (and %d more URLs)", shown, len(also))
    deadline = ["--timeout-ms", str(max(1, int(timeout * 1000)))]
    if refused is None:
        args = ["credential", "get", shown, *deadline]
        for other in also:
            args += ["--also", other]
    else:
        # The refused header is named by its SHA-256, never passed itself.
        args = [
            "credential", "rejected", shown, *deadline, "--status", str(refused.status),
            "--kind", refused.kind, "--header-sha256", refused.fingerprint,
        ]
    slow = (
        f"for {shown}: check the daemon with `anacondactl daemon status` (or raise {TIMEOUT_ENV})"
    )
    answer = anacondactl.run(
        [*args, *settings.arguments()], timeout, slow, grace=_PROCESS_GRACE_SECONDS
    )
    credential = _credential(shown, answer)
    if credential is None:
        raise anacondactl.Failed(
            f"anacondactl gave an answer without a credential for {shown}: make sure "
            "anacondactl and this plugin come from the same anacondad release "
            "(`pip install --upgrade anacondad`, or `conda update anacondad`)",
            "unreadable_answer",
        )
    log.debug("anacondad answered for %s with a %s credential", shown, credential.kind or "?")
    others = []
    answered = answer.get("also")
    for other in answered if isinstance(answered, list) else ():
        other_url = other.get("url") if isinstance(other, dict) else None
        if other_url not in also or not other.get("found"):
            continue
        found = _credential(other_url, other)
        if found is not None:
            others.append(found)
    return credential, others


def _credential(shown: str, answer: Dict) -> Optional[Credential]:
    """The credential of one answer for the URL `shown`, or None when it has none."""
    header_value = answer.get("header_value")
    if not isinstance(header_value, str) or not header_value:
        return None
    lifetime = CACHE_TTL_SECONDS
    left = _seconds_left(answer.get("expires_at"))
    if left is not None:
        lifetime = max(0.0, min(lifetime, left))
    scope = answer.get("scope")
    # An answer covers what the daemon says it covers, and never a URL it was not asked
    # about; without a scope, the request's directory.
    if not (isinstance(scope, str) and scope.endswith("/") and shown.startswith(scope)):
        scope = _directory(shown)
    return Credential(
        header_value=header_value,
        kind=str(answer.get("kind") or ""),
        org=str(answer.get("org") or ""),
        scope=scope,
        fresh_until=time.monotonic() + lifetime,
    )
