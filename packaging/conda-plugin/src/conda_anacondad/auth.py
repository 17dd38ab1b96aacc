"""The auth handler: asks the daemon for the credential of each request URL (through the
process-wide cache, ``cache.py``, whose first lookup also asks for every channel conda will
search through this handler, ``searched.py``), and replays a rejected request once with a fresh
credential. The ``channel_settings`` entry a request came through may say which credential
goes first and whose it is (``entry.py``); both go to the daemon with the lookup.

conda builds a handler instance for every URL it fetches and calls them from many threads, so
``__init__`` does nothing costly.
"""

import ipaddress
import logging
from typing import Optional
from urllib.parse import urlsplit

from .cache import CACHE, Credential, NoReplacement, redacted
from .entry import NO_SETTINGS, entry_settings
from .errors import AnacondadAuthError
from .searched import ExpectedOnce

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

_REJECTED = (401, 403)


def clear_cache() -> None:
    """Forgets every cached credential and remembered failure (the next request asks the
    daemon)."""
    CACHE.clear()
    _EXPECTED.forget()


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


def _sendable(url: str) -> bool:
    """Whether the handler sends a credential to `url` at all (see `AnacondadAuth.__call__`)."""
    parts = urlsplit(url)
    if _carries_own_token(url):
        return False
    return parts.scheme == "https" or (
        parts.scheme == "http" and _is_loopback(parts.hostname or "")
    )


#: The URLs this conda command will fetch through the handler, asked for with the first lookup.
_EXPECTED = ExpectedOnce(HANDLER_NAME, _sendable)


def _what(credential: Credential) -> str:
    """The credential as the daemon described it (its kind and org), in words."""
    if credential.kind == "repo_token" and credential.org:
        return f"the repo token of {credential.org}"
    if credential.kind == "api_key":
        return "your API key"
    return "the credential from anacondad"


def _refused(url: str, status: int, message: str) -> AnacondadAuthError:
    """The error for a request the repository refused; it carries the URL and the status for
    conda's error hint (health.py)."""
    return AnacondadAuthError(message, refused_url=url, refused_status=status)


def _nothing_usable(shown: str, status: int, sent: Credential, outcome: str):
    """The error for a refusal the daemon's answers could not get past; `outcome` says what
    else was tried. It never advises a reissue (a refusal in one channel says nothing of the
    token elsewhere, and a reissue revokes it everywhere): `anacondactl doctor` asks the
    service why and names the fix."""
    if status == 403:
        outcome += " (HTTP 403: the account may not read this channel)"
    return _refused(
        shown,
        status,
        f"the repository refused {_what(sent)} (HTTP {status}) for {shown}{outcome}: "
        "`anacondactl doctor` says why",
    )


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
                f"refusing to send an Anaconda credential to {redacted(url)} over "
                f"{parts.scheme or 'an unknown scheme'}: use an https:// channel URL"
            )
        settings = entry_settings(self.channel_name, url)
        credential = CACHE.get(url, settings, _EXPECTED)
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
        status = response.status_code
        if status not in _REJECTED:
            return response
        sent: Optional[Credential] = getattr(request, "_anacondad_credential", None)
        if sent is None or _carries_own_token(request.url):
            return response
        shown = redacted(request.url)
        if getattr(request, "_anacondad_replayed", False):
            log.debug("the replay of %s was rejected too", shown)
            raise _nothing_usable(shown, status, sent, ", given in place of a refused one")

        settings = getattr(request, "_anacondad_settings", NO_SETTINGS)
        try:
            fresh = CACHE.renew(request.url, sent, status, settings)
        except NoReplacement as e:
            # The daemon's words: what was refused and what to run.
            raise _refused(shown, status, f"{e} (for {shown})") from None
        if fresh.header_value == sent.header_value:
            raise _nothing_usable(shown, status, sent, ", and anacondad offers no other")

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
            outcome = f", and {_what(fresh)} that replaced it (HTTP {answer.status_code})"
            raise _nothing_usable(shown, status, sent, outcome)
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
