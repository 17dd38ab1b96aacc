"""The auth handler: asks the daemon for the credential of each request URL, caches it per
process, and replays a rejected request once with a fresh credential.

conda builds a handler instance for every URL it fetches and calls them from many threads, so
``__init__`` does nothing costly and the cache lives at module level behind a lock. Lookups for
the same cache key are made one at a time, so a burst of requests costs one ``anacondactl`` call.
"""

import hashlib
import ipaddress
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from .errors import AnacondadAuthError

try:  # conda's base class when conda is present, requests' otherwise (tests, plain scripts).
    from conda.plugins.types import ChannelAuthBase as _AuthBase

    _CONDA_BASE = True
except ImportError:  # pragma: no cover - depends on the environment
    _CONDA_BASE = False
    try:
        from requests.auth import AuthBase as _AuthBase
    except ImportError:
        _AuthBase = object

__all__ = ["HANDLER_NAME", "AnacondadAuth", "clear_cache"]

HANDLER_NAME = "anacondad"

log = logging.getLogger("conda_anacondad")

#: How long an answer is reused at most, so a token the daemon renewed is picked up soon even
#: when the old one has not been rejected yet.
CACHE_TTL_SECONDS = 60.0
#: `anacondactl` may have to start the daemon, which may wait on a slow keychain.
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Environment variables: the `anacondactl` to run, and how long to wait for it.
ANACONDACTL_ENV = "ANACONDACTL"
TIMEOUT_ENV = "CONDA_ANACONDAD_TIMEOUT"

# anacondactl's documented exit codes (`anacondactl --help`).
_EXIT_FAILED = 1
_EXIT_DAEMON = 3
_EXIT_LOGIN_REQUIRED = 5
_EXIT_PROTOCOL_MISMATCH = 7

_REJECTED = (401, 403)


class _Credential(NamedTuple):
    header_value: str
    kind: str
    org: str
    #: `time.monotonic()` after which the answer must be asked for again.
    fresh_until: float

    def __repr__(self) -> str:  # the header is a secret: keep it out of any log or traceback
        return f"_Credential(kind={self.kind!r}, org={self.org!r}, header_value='****')"


_CacheKey = Tuple[str, str]


class _CredentialCache:
    """Credentials by (origin, channel segment), safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: Dict[_CacheKey, _Credential] = {}
        self._key_locks: Dict[_CacheKey, threading.Lock] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _cached(self, key: _CacheKey) -> Optional[_Credential]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.fresh_until <= time.monotonic():
                del self._entries[key]
                entry = None
            return entry

    def _key_lock(self, key: _CacheKey) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: _CacheKey, url: str) -> _Credential:
        entry = self._cached(key)
        if entry is not None:
            return entry
        # One lookup per key at a time: the threads that waited find the answer cached.
        with self._key_lock(key):
            entry = self._cached(key)
            if entry is None:
                entry = self._store(key, _ask_daemon(url))
            return entry

    def renew(self, key: _CacheKey, url: str, rejected: str, status: int) -> _Credential:
        """A credential after `rejected` was refused with `status`: the cached one when another
        thread has already replaced it, else the daemon's answer to the refusal (a newer token,
        or the other kind of credential)."""
        with self._key_lock(key):
            entry = self._cached(key)
            if entry is not None and entry.header_value != rejected:
                return entry
            with self._lock:
                self._entries.pop(key, None)
            kind = "api_key" if rejected.startswith("Bearer ") else "repo_token"
            fingerprint = hashlib.sha256(rejected.encode("utf-8")).hexdigest()
            return self._store(key, _ask_daemon(url, rejected=(status, kind, fingerprint)))

    def _store(self, key: _CacheKey, entry: _Credential) -> _Credential:
        with self._lock:
            self._entries[key] = entry
        return entry


_CACHE = _CredentialCache()


def clear_cache() -> None:
    """Forgets every cached credential (the next request asks the daemon)."""
    _CACHE.clear()


def _redacted(url: str) -> str:
    """The URL without user info, query or fragment: what may be logged, shown or passed to
    `anacondactl` (the daemon needs only scheme, host and path)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _cache_key(url: str) -> Optional[_CacheKey]:
    """The cache key of a request URL, or None for a URL that carries its own token
    (``/t/<token>/...``). URLs under a ``/repo/`` path share a key per first segment after it
    (the organisation, or a default channel such as ``main``), which is what the daemon's
    choice of credential depends on; any other URL is its own key."""
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{parts.port or ''}"
    segments = parts.path.split("/")
    if len(segments) > 2 and segments[1] == "t":
        return None
    if "repo" in segments:
        at = segments.index("repo")
        channel = segments[at + 1] if at + 1 < len(segments) else ""
        return (origin, "/".join(segments[: at + 1]) + "/" + channel)
    return (origin, parts.path)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _anacondactl() -> str:
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


def _reason(stdout: str, stderr: str) -> str:
    """What anacondactl said went wrong: `reason` of its JSON answer, else its stderr."""
    try:
        answer = json.loads(stdout)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("reason"):
        return str(answer["reason"])
    text = stderr.strip()
    if text.startswith("anacondactl: "):
        text = text[len("anacondactl: ") :]
    return text[:500] or "no reason given"


def _ask_daemon(url: str, rejected: Optional[Tuple[int, str, str]] = None) -> _Credential:
    """One `anacondactl --json credential get URL` (or, after a refusal, `credential rejected
    URL --status N --kind K`). The URL is not secret; the answer, which is, comes back on stdout
    and is never logged."""
    shown = _redacted(url)
    program = _anacondactl()
    timeout = _timeout()
    log.debug("asking anacondad for the credential of %s", shown)
    if rejected is None:
        command = [program, "--json", "credential", "get", shown]
    else:
        status, kind, fingerprint = rejected
        # The refused header is named by its SHA-256, never passed itself.
        command = [
            program, "--json", "credential", "rejected", shown,
            "--status", str(status), "--kind", kind, "--header-sha256", fingerprint,
        ]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            text=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AnacondadAuthError(
            f"anacondactl did not answer within {timeout:g} s for {shown}: check the daemon "
            f"with `anacondactl daemon status` (or raise {TIMEOUT_ENV})"
        ) from None
    except OSError as e:
        raise AnacondadAuthError(
            f"cannot run {program} ({e.strerror or e}): install anacondad, or set "
            f"{ANACONDACTL_ENV} to the path of anacondactl"
        ) from None

    if done.returncode == 0:
        try:
            answer = json.loads(done.stdout)
            header_value = answer["header_value"]
            if not answer.get("found") or not isinstance(header_value, str) or not header_value:
                raise ValueError("no header_value")
        except (ValueError, KeyError, TypeError):
            raise AnacondadAuthError(
                f"anacondactl gave an answer the plugin does not understand for {shown}: "
                "make sure anacondactl and conda-anacondad come from the same anacondad release"
            ) from None
        expires_at = answer.get("expires_at") or 0
        lifetime = CACHE_TTL_SECONDS
        if isinstance(expires_at, (int, float)) and expires_at > 0:
            lifetime = max(0.0, min(lifetime, expires_at - time.time()))
        log.debug(
            "anacondad answered for %s with a %s credential", shown, answer.get("kind") or "?"
        )
        return _Credential(
            header_value=header_value,
            kind=str(answer.get("kind") or ""),
            org=str(answer.get("org") or ""),
            fresh_until=time.monotonic() + lifetime,
        )

    reason = _reason(done.stdout, done.stderr)
    if done.returncode == _EXIT_DAEMON:
        message = (
            f"the anacondad daemon is not running and could not be started ({reason}): "
            "start it with `anacondactl daemon start`, then see `anacondactl daemon status`"
        )
    elif done.returncode == _EXIT_LOGIN_REQUIRED:
        message = f"not logged in to Anaconda ({reason}): run `anacondactl login`"
    elif done.returncode == _EXIT_PROTOCOL_MISMATCH:
        message = (
            f"anacondactl and the running daemon are different versions ({reason}): restart it "
            "with `anacondactl daemon stop` and `anacondactl daemon start`"
        )
    elif done.returncode == _EXIT_FAILED:
        message = f"anacondad has no credential for {shown}: {reason}"
        if "anacondactl" not in reason:
            message += ": run `anacondactl login`, then `anacondactl token install`"
    else:
        message = (
            f"anacondactl failed (exit {done.returncode}) for {shown}: {reason}: "
            "see `anacondactl daemon status`"
        )
    raise AnacondadAuthError(message)


class AnacondadAuth(_AuthBase):
    """conda's handler for ``auth: anacondad`` (also usable as ``requests`` auth).

    ``channel_name`` is kept for conda's sake but not used: the credential depends on the
    request URL, and conda's channel name is wrong for sharded repodata.
    """

    def __init__(self, channel_name: str = "") -> None:
        if _CONDA_BASE:
            super().__init__(channel_name)
        self.channel_name = channel_name

    def __call__(self, request):
        url = request.url
        key = _cache_key(url)
        if key is None:
            return request
        parts = urlsplit(url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and _is_loopback(parts.hostname or "")
        ):
            raise AnacondadAuthError(
                f"refusing to send an Anaconda credential to {_redacted(url)} over "
                f"{parts.scheme or 'an unknown scheme'}: use an https:// channel URL"
            )
        credential = _CACHE.get(key, url)
        request.headers["Authorization"] = credential.header_value
        body = getattr(request, "body", None)
        if hasattr(body, "tell"):
            try:
                request._anacondad_body_position = body.tell()
            except OSError:
                request._anacondad_body_position = None
        if self._on_response not in request.hooks["response"]:
            request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response, **kwargs):
        """On 401/403: a fresh credential and one replay (the pattern of HTTPDigestAuth)."""
        request = response.request
        if response.status_code not in _REJECTED:
            return response
        rejected = request.headers.get("Authorization")
        key = _cache_key(request.url)
        if not rejected or key is None:
            return response
        shown = _redacted(request.url)
        if getattr(request, "_anacondad_replayed", False):
            log.debug("the replay of %s was rejected too", shown)
            raise AnacondadAuthError(_rejection_message(response, shown, renewed=True))

        fresh = _CACHE.renew(key, request.url, rejected, response.status_code)
        if fresh.header_value == rejected:
            raise AnacondadAuthError(_rejection_message(response, shown, renewed=False))

        if not _rewind(request):
            return response
        # Release the connection before sending again.
        response.content  # noqa: B018 - reading the body is what frees the connection
        response.close()
        replay = request.copy()
        from requests.cookies import extract_cookies_to_jar

        extract_cookies_to_jar(replay._cookies, request, response.raw)
        replay.prepare_cookies(replay._cookies)
        replay.headers["Authorization"] = fresh.header_value
        replay._anacondad_replayed = True
        log.debug("replaying %s with a fresh %s credential", shown, fresh.kind or "?")
        # The adapter, not the session, sends the replay: hooks do not run again, so this is
        # the only replay, and its answer is checked here.
        answer = response.connection.send(replay, **kwargs)
        answer.history.append(response)
        answer.request = replay
        if answer.status_code in _REJECTED:
            answer.close()
            raise AnacondadAuthError(_rejection_message(answer, shown, renewed=True))
        return answer


def _rewind(request) -> bool:
    """Puts a file-like body back where it started; False when it cannot be sent again."""
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    position = getattr(request, "_anacondad_body_position", None)
    if position is None or not hasattr(body, "seek"):
        return False
    body.seek(position)
    return True


def _rejection_message(response, shown: str, renewed: bool) -> str:
    status = response.status_code
    segments = urlsplit(response.request.url).path.split("/")
    org = ""
    if "repo" in segments and segments.index("repo") + 1 < len(segments):
        org = segments[segments.index("repo") + 1]
    if org and org not in ("main", "r", "msys2"):
        fix = (
            f"run `anacondactl token install --org {org}` (or `anacondactl login` if your "
            "login lapsed)"
        )
    else:
        fix = "run `anacondactl login`, then `anacondactl token install`"
    what = (
        "rejected the fresh credential from anacondad as well"
        if renewed
        else "rejected the credential and anacondad has no other one"
    )
    return f"the repository answered HTTP {status} for {shown}: it {what}: {fix}"
