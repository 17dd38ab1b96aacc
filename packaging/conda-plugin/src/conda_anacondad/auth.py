"""The auth handler: asks the daemon for the credential of each request URL, caches it per
process for the URL prefix the daemon says it covers, and replays a rejected request once with
a fresh credential. The ``channel_settings`` entry a request came through may say which
credential goes first (``credential_type: api-key | repo-token``) and whose it is
(``auth_domain``), as it does for anaconda-auth; both go to the daemon with the lookup.

conda builds a handler instance for every URL it fetches and calls them from many threads, so
``__init__`` does nothing costly and the cache lives at module level behind a lock. Lookups for
one directory are made one at a time, so a burst of requests costs one ``anacondactl`` call;
every lookup has a deadline, and a failure is remembered briefly, so a daemon that is down or
hung fails a conda command once, in seconds.
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
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple
from urllib.parse import urlparse, urlsplit, urlunsplit

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
#: Environment variables: the `anacondactl` to run, and the lookup deadline in seconds.
ANACONDACTL_ENV = "ANACONDACTL"
TIMEOUT_ENV = "CONDA_ANACONDAD_TIMEOUT"

# anacondactl's documented exit codes (`anacondactl --help`).
_EXIT_FAILED = 1
_EXIT_DAEMON = 3
_EXIT_LOGIN_REQUIRED = 5
_EXIT_PROTOCOL_MISMATCH = 7
_EXIT_UNRESPONSIVE = 8

_REJECTED = (401, 403)

#: The values of an entry's ``credential_type``, spelled as anaconda-auth spells them.
CREDENTIAL_TYPES = ("api-key", "repo-token")


class _EntrySettings(NamedTuple):
    """What the ``channel_settings`` entry of a request says beside ``auth``; empty when it
    says nothing. Answers are cached per settings: two entries that differ here may get
    different credentials for the same URL."""

    credential_type: str = ""
    auth_domain: str = ""

    def arguments(self) -> List[str]:
        """The `anacondactl credential get|rejected` options that pass them on."""
        args = []
        if self.credential_type:
            args += ["--credential-type", self.credential_type]
        if self.auth_domain:
            args += ["--auth-domain", self.auth_domain]
        return args


_NO_SETTINGS = _EntrySettings()


def _conda_channel_settings() -> Iterable[Mapping[str, Any]]:
    """conda's ``channel_settings``, or none outside conda."""
    try:
        from conda.base.context import context
    except ImportError:
        return ()
    return context.channel_settings or ()


def _entry_for(channel_name: str, url: str, entries: Iterable[Mapping[str, Any]]):
    """The entry conda chose this handler by, found as conda's ``get_session`` finds it: the
    last one whose ``channel`` is the channel's name or, with the same scheme, a pattern its
    host and path match. conda hands a handler only the channel's name, so each handler looks
    its entry up again (anaconda-auth's ``_load_channel_settings`` does the same)."""
    found: Mapping[str, Any] = {}
    parsed_url = urlparse(url)
    for entry in entries:
        channel = entry.get("channel", "")
        if channel == channel_name:
            found = entry
            continue
        parsed_setting = urlparse(channel)
        if parsed_setting.scheme != parsed_url.scheme:
            continue
        pattern = parsed_setting.netloc + parsed_setting.path
        if fnmatch(parsed_url.netloc + parsed_url.path, pattern):
            found = entry
    return found


def _entry_settings(channel_name: str, url: str) -> _EntrySettings:
    """The ``credential_type`` and ``auth_domain`` of the request's entry; a value anacondad
    cannot use is an error that names the entry and what to write instead."""
    entry = _entry_for(channel_name, url, _conda_channel_settings())
    credential_type = entry.get("credential_type")
    auth_domain = entry.get("auth_domain")
    if credential_type is None and not auth_domain:
        return _NO_SETTINGS
    where = f"the channel_settings entry for {entry.get('channel', '')!r}"
    if credential_type is not None and credential_type not in CREDENTIAL_TYPES:
        raise AnacondadAuthError(
            f"{where} has credential_type: {credential_type!r}, which is not a credential type: "
            f"write {' or '.join(CREDENTIAL_TYPES)}, or remove the key (then anacondad's "
            "credential_preference decides)"
        )
    if auth_domain and not (isinstance(auth_domain, str) and auth_domain.strip()):
        raise AnacondadAuthError(
            f"{where} has auth_domain: {auth_domain!r}, which is not a domain: write the "
            "domain of a site (`anacondactl sites list`), or remove the key"
        )
    return _EntrySettings(
        credential_type=credential_type or "",
        auth_domain=(auth_domain or "").strip(),
    )


class _Credential(NamedTuple):
    header_value: str
    kind: str
    org: str
    #: The URL prefix the answer covers (the daemon's `scope`, else the request's directory).
    scope: str
    #: `time.monotonic()` after which the answer must be asked for again.
    fresh_until: float

    def __repr__(self) -> str:  # the header is a secret: keep it out of any log or traceback
        return f"_Credential(kind={self.kind!r}, org={self.org!r}, header_value='****')"


class _Failure(NamedTuple):
    """A lookup that failed, remembered so the next requests fail at once with the same words
    instead of each waiting on the daemon again."""

    message: str
    until: float


class _CredentialCache:
    """Credentials by the URL prefix the daemon said they cover, safe to share between threads.

    The plugin does not read meaning into URL paths: which credential a URL needs is the
    daemon's decision, and its answer says which prefix it holds for (``scope``). Until the
    first answer for a URL, lookups are grouped by the URL's directory, so a burst of requests
    for one file list costs one ``anacondactl`` call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: By the entry's settings and the scope; the longest scope that prefixes a URL serves
        #: it, for the same settings only.
        self._entries: Dict[Tuple[_EntrySettings, str], _Credential] = {}
        #: By the entry's settings and the directory of a URL whose lookup failed.
        self._failures: Dict[Tuple[_EntrySettings, str], _Failure] = {}
        #: A failure that concerns every URL (the daemon unreachable or hung, not logged in).
        self._global_failure: Optional[_Failure] = None
        self._key_locks: Dict[Tuple[_EntrySettings, str], threading.Lock] = {}
        #: Held for a lookup until one has succeeded in this process: the first lookup may
        #: start the daemon (one start, not one per thread), and when the daemon is hung only
        #: one thread waits out the deadline while the others get the remembered failure.
        self._first_lookup = threading.Lock()
        self._daemon_answered = False

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._failures.clear()
            self._global_failure = None
            self._daemon_answered = False

    def _cached(self, url: str, settings: _EntrySettings) -> Optional[_Credential]:
        url = _redacted(url)
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
            failure = self._global_failure
            if failure is not None and failure.until > now:
                return failure.message
            failure = self._failures.get(key)
            if failure is not None and failure.until > now:
                return failure.message
            return None

    def _key_lock(self, key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, url: str, settings: _EntrySettings = _NO_SETTINGS) -> _Credential:
        entry = self._cached(url, settings)
        if entry is not None:
            return entry
        key = (settings, _directory(url))
        # One lookup per key at a time: the threads that waited find the answer cached.
        with self._key_lock(key):
            return self._lookup(url, key, None)

    def renew(
        self, url: str, rejected: str, status: int, settings: _EntrySettings = _NO_SETTINGS
    ) -> _Credential:
        """A credential after `rejected` was refused with `status`: the cached one when another
        thread has already replaced it, else the daemon's answer to the refusal (a newer token,
        or the other kind of credential)."""
        key = (settings, _directory(url))
        with self._key_lock(key):
            entry = self._cached(url, settings)
            if entry is not None and entry.header_value != rejected:
                return entry
            if entry is not None:
                with self._lock:
                    self._entries.pop((settings, entry.scope), None)
            kind = "api_key" if rejected.startswith("Bearer ") else "repo_token"
            fingerprint = hashlib.sha256(rejected.encode("utf-8")).hexdigest()
            return self._lookup(url, key, (status, kind, fingerprint), use_cache=False)

    def _lookup(self, url, key, rejected, use_cache=True) -> _Credential:
        settings = key[0]
        if use_cache:
            entry = self._cached(url, settings)
            if entry is not None:
                return entry
        message = self._remembered_failure(key)
        if message is not None:
            raise AnacondadAuthError(message)
        if self._daemon_answered:
            return self._ask(url, key, rejected)
        with self._first_lookup:
            # Another thread may have got an answer, or a failure, while this one waited.
            if use_cache:
                entry = self._cached(url, settings)
                if entry is not None:
                    return entry
            message = self._remembered_failure(key)
            if message is not None:
                raise AnacondadAuthError(message)
            return self._ask(url, key, rejected)

    def _ask(self, url, key, rejected) -> _Credential:
        try:
            entry = _ask_daemon(url, rejected, key[0])
        except _LookupFailed as failure:
            if rejected is not None and not failure.everywhere:
                # Nothing to replace a refused credential with: the caller says it was refused
                # (not missing), and the next request may still ask again.
                raise _NoReplacement(failure.message) from None
            until = time.monotonic() + FAILURE_MEMORY_SECONDS
            with self._lock:
                if failure.everywhere:
                    self._global_failure = _Failure(failure.message, until)
                else:
                    self._failures[key] = _Failure(failure.message, until)
            raise AnacondadAuthError(failure.message) from None
        with self._lock:
            self._entries[(key[0], entry.scope)] = entry
            self._failures.pop(key, None)
            self._daemon_answered = True
        return entry


_CACHE = _CredentialCache()


def clear_cache() -> None:
    """Forgets every cached credential and remembered failure (the next request asks the
    daemon)."""
    _CACHE.clear()


def _redacted(url: str) -> str:
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
    shown = _redacted(url)
    return shown[: shown.rindex("/") + 1] if shown.count("/") > 2 else shown + "/"


def _carries_own_token(url: str) -> bool:
    """True for a ``/t/<token>/...`` URL: conda put the token in the path itself, and a header
    would only add a second credential."""
    segments = urlsplit(url).path.split("/")
    return len(segments) > 2 and segments[1] == "t"


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


class _NoReplacement(AnacondadAuthError):
    """The daemon has no other credential for a URL whose credential was just refused."""


class _LookupFailed(Exception):
    """Why no credential came back; `everywhere` when it concerns every URL (the daemon, the
    login), not just this one."""

    def __init__(self, message: str, everywhere: bool) -> None:
        super().__init__(message)
        self.message = message
        self.everywhere = everywhere


def _ask_daemon(
    url: str,
    rejected: Optional[Tuple[int, str, str]] = None,
    settings: _EntrySettings = _NO_SETTINGS,
) -> _Credential:
    """One `anacondactl --json credential get URL` (or, after a refusal, `credential rejected
    URL --status N --kind K`), with the entry's settings. The URL is not secret; the answer,
    which is, comes back on stdout and is never logged."""
    shown = _redacted(url)
    try:
        program = _anacondactl()
        timeout = _timeout()
    except AnacondadAuthError as e:
        raise _LookupFailed(str(e), everywhere=True) from None
    log.debug("asking anacondad for the credential of %s", shown)
    deadline = ["--timeout-ms", str(max(1, int(timeout * 1000)))]
    if rejected is None:
        command = [program, "--json", "credential", "get", shown, *deadline]
    else:
        status, kind, fingerprint = rejected
        # The refused header is named by its SHA-256, never passed itself.
        command = [
            program, "--json", "credential", "rejected", shown, *deadline,
            "--status", str(status), "--kind", kind, "--header-sha256", fingerprint,
        ]
    command += settings.arguments()
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout + _PROCESS_GRACE_SECONDS,
            text=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _LookupFailed(
            f"anacondad is unreachable: anacondactl did not answer within {timeout:g} s for "
            f"{shown}: check the daemon with `anacondactl daemon status` (or raise {TIMEOUT_ENV})",
            everywhere=True,
        ) from None
    except OSError as e:
        raise _LookupFailed(
            f"cannot run {program} ({e.strerror or e}): install anacondad, or set "
            f"{ANACONDACTL_ENV} to the path of anacondactl",
            everywhere=True,
        ) from None

    if done.returncode == 0:
        try:
            answer = json.loads(done.stdout)
            header_value = answer["header_value"]
            if not answer.get("found") or not isinstance(header_value, str) or not header_value:
                raise ValueError("no header_value")
        except (ValueError, KeyError, TypeError):
            raise _LookupFailed(
                f"anacondactl gave an answer the plugin does not understand for {shown}: "
                "make sure anacondactl and conda-anacondad come from the same anacondad release",
                everywhere=True,
            ) from None
        expires_at = answer.get("expires_at") or 0
        lifetime = CACHE_TTL_SECONDS
        if isinstance(expires_at, (int, float)) and expires_at > 0:
            lifetime = max(0.0, min(lifetime, expires_at - time.time()))
        scope = answer.get("scope")
        # An answer covers what the daemon says it covers, and never a URL it was not asked
        # about; without a scope, the request's directory.
        if not (isinstance(scope, str) and scope.endswith("/") and shown.startswith(scope)):
            scope = _directory(shown)
        log.debug(
            "anacondad answered for %s with a %s credential", shown, answer.get("kind") or "?"
        )
        return _Credential(
            header_value=header_value,
            kind=str(answer.get("kind") or ""),
            org=str(answer.get("org") or ""),
            scope=scope,
            fresh_until=time.monotonic() + lifetime,
        )

    reason = _reason(done.stdout, done.stderr)
    everywhere = True
    if done.returncode == _EXIT_UNRESPONSIVE:
        # anacondactl's reason names the process and what to run.
        message = f"anacondad is unreachable: {reason}"
    elif done.returncode == _EXIT_DAEMON:
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
        everywhere = False
        message = f"anacondad has no credential for {shown}: {reason}"
        if "anacondactl" not in reason:
            message += ": run `anacondactl login`, then `anacondactl token install`"
    else:
        message = (
            f"anacondactl failed (exit {done.returncode}) for {shown}: {reason}: "
            "see `anacondactl daemon status`"
        )
    raise _LookupFailed(message, everywhere)


class AnacondadAuth(_AuthBase):
    """conda's handler for ``auth: anacondad`` (also usable as ``requests`` auth).

    The credential depends on the request URL, not on ``channel_name`` (wrong for sharded
    repodata); the name only finds the request's ``channel_settings`` entry again, as conda
    found it.
    """

    def __init__(self, channel_name: str = "") -> None:
        if _CONDA_BASE:
            super().__init__(channel_name)
        self.channel_name = channel_name

    def __call__(self, request):
        url = request.url
        if _carries_own_token(url):
            return request
        parts = urlsplit(url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and _is_loopback(parts.hostname or "")
        ):
            raise AnacondadAuthError(
                f"refusing to send an Anaconda credential to {_redacted(url)} over "
                f"{parts.scheme or 'an unknown scheme'}: use an https:// channel URL"
            )
        settings = _entry_settings(self.channel_name, url)
        credential = _CACHE.get(url, settings)
        request.headers["Authorization"] = credential.header_value
        request._anacondad_credential = credential
        request._anacondad_settings = settings
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
        if not rejected or _carries_own_token(request.url):
            return response
        shown = _redacted(request.url)
        sent = getattr(request, "_anacondad_credential", None)
        if getattr(request, "_anacondad_replayed", False):
            log.debug("the replay of %s was rejected too", shown)
            raise AnacondadAuthError(_rejection_message(response, shown, sent, renewed=True))

        settings = getattr(request, "_anacondad_settings", _NO_SETTINGS)
        try:
            fresh = _CACHE.renew(request.url, rejected, response.status_code, settings)
        except _NoReplacement:
            raise AnacondadAuthError(
                _rejection_message(response, shown, sent, renewed=False)
            ) from None
        if fresh.header_value == rejected:
            raise AnacondadAuthError(_rejection_message(response, shown, sent, renewed=False))

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
        replay._anacondad_credential = fresh
        replay._anacondad_settings = settings
        log.debug("replaying %s with a fresh %s credential", shown, fresh.kind or "?")
        # The adapter, not the session, sends the replay: hooks do not run again, so this is
        # the only replay, and its answer is checked here.
        answer = response.connection.send(replay, **kwargs)
        answer.history.append(response)
        answer.request = replay
        if answer.status_code in _REJECTED:
            answer.close()
            raise AnacondadAuthError(_rejection_message(answer, shown, fresh, renewed=True))
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


def _rejection_message(response, shown: str, sent: Optional[_Credential], renewed: bool) -> str:
    """A refusal is not a missing credential: say which credential was refused and what
    replaces it. The organisation comes from the daemon's answer, not from the URL."""
    status = response.status_code
    kind = sent.kind if sent is not None else ""
    org = sent.org if sent is not None else ""
    # Never advise a reissue: a refusal on one channel (HTTP 403: the account may not read
    # it) says nothing of the token elsewhere, and a reissue revokes it everywhere.
    # `token list` asks the service and names the fix when the token was replaced.
    if kind == "repo_token" and org:
        what = f"the repo token of {org}"
        fix = (
            f"run `anacondactl token list`, which checks the token of {org} with the service "
            "and says what to run (or `anacondactl whoami` if your login lapsed)"
        )
    elif kind == "api_key":
        what = "your API key"
        fix = "run `anacondactl whoami` to check your login, and `anacondactl token list`"
    else:
        what = "the credential from anacondad"
        fix = "run `anacondactl token list` and `anacondactl whoami` to check what is stored"
    if renewed:
        outcome = "and refused the replacement anacondad gave as well"
    else:
        outcome = "and anacondad has no other credential for it"
    if status == 403:
        outcome += " (HTTP 403: the account may not read this channel)"
    return f"the repository refused {what} (HTTP {status}) for {shown} {outcome}: {fix}"
