"""A keyring backend served by the anacondad daemon, so every client of Python's ``keyring``
in this environment reads the daemon's current credential and none keeps a copy of its own.

What it answers (the daemon decides, through ``anacondactl keyring get|set|delete``):

- service ``Anaconda Cloud``, username a domain the daemon serves: anaconda-auth's record
  (base64 of ``{"domain", "api_key", "repo_tokens", "version": 2}``) built from the daemon's
  current API key and repo tokens. A record anaconda-auth writes (its login, ``anaconda token
  install``) is handed to the daemon, which keeps the API key and the tokens the service
  accepts and removes nothing; anaconda-auth's logout (a delete) logs the daemon out of that
  site: the API key goes, the repo tokens stay, as with ``anacondactl logout``.
- an ``http(s)`` URL under a repository the daemon serves (the wheels index, a channel), with
  username ``__token__`` or none: ``__token__`` and the API key, for pip and uv; under a
  Package Security Manager's repository (``https://<host>/api/repo/``), with no username: the
  API key as the username and ``x-auth-token`` as the password, that server's documented form.
- anything else, and everything while the daemon is not running or does not answer within
  ``CONDA_ANACONDAD_KEYRING_TIMEOUT`` seconds (2 by default): the keyring this process would
  have used without this backend answers. A service name that is neither of the two forms
  above is passed on without asking the daemon at all.

Its priority, 12, is above anaconda-auth's own file backend (11 in its default
configuration) and keyring's chainer (10), so anaconda-auth with no configuration lands here;
it stays below anaconda-auth's ``ConfigKeyring`` (100, an ``api_key`` the user wrote into its
configuration) and yields to a backend the user names (``PYTHON_KEYRING_BACKEND``,
``keyringrc.cfg``), as keyring always does. It never starts the daemon.
``CONDA_ANACONDAD_KEYRING=off`` keeps it out of the choice, as if it were not installed (for
a process that must use anaconda-auth's own store).
"""

import logging
import os
from typing import Any, Dict, List, Optional

from jaraco.classes import properties
from keyring import backend as _backend
from keyring import credentials as _credentials
from keyring.errors import PasswordDeleteError, PasswordSetError

from . import anacondactl

logger = logging.getLogger(__name__)

#: anaconda-auth's keyring service.
ANACONDA_SERVICE = "Anaconda Cloud"

#: Seconds a question to the daemon may take before the backend steps aside.
TIMEOUT_ENV = "CONDA_ANACONDAD_KEYRING_TIMEOUT"
DEFAULT_TIMEOUT = 2.0

#: Above anaconda-auth's file backend (11) and keyring's chainer (10).
PRIORITY = 12

#: ``off`` (or ``0``, ``no``, ``false``) keeps this backend out of keyring's choice.
SWITCH_ENV = "CONDA_ANACONDAD_KEYRING"


def _switched_off() -> bool:
    return os.environ.get(SWITCH_ENV, "").strip().lower() in ("off", "0", "no", "false")


def _timeout() -> float:
    try:
        value = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _concerns_daemon(service: str) -> bool:
    """Whether the daemon may own `service`: anaconda-auth's, or an index URL."""
    return service == ANACONDA_SERVICE or service.startswith(("https://", "http://"))


def _ask(verb: str, service: str, username: Optional[str], stdin: Optional[str] = None):
    """The daemon's answer to `keyring VERB`, or None when it gave none (not running, not in
    time, an older anacondactl): the caller then steps aside."""
    timeout = _timeout()
    args = ["keyring", verb, service, username or "", "--timeout-ms", str(int(timeout * 1000))]
    try:
        return anacondactl.run(
            args, timeout, "to a keyring look-up", grace=0.5, stdin=stdin
        )
    except anacondactl.Failed as e:
        logger.debug("anacondad gave no keyring answer (%s): %s", e.reason, e.message)
        return None


class _Chain:
    """keyring's chainer over the other backends, without this one (keyring's own
    ChainerBackend lists every backend, this one included)."""

    def __init__(self, backends: List[Any]) -> None:
        self.backends = backends

    def get_password(self, service: str, username: str) -> Optional[str]:
        for ring in self.backends:
            password = ring.get_password(service, username)
            if password is not None:
                return password
        return None

    def get_credential(self, service: str, username: Optional[str]):
        for ring in self.backends:
            credential = ring.get_credential(service, username)
            if credential is not None:
                return credential
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        for ring in self.backends:
            try:
                return ring.set_password(service, username, password)
            except NotImplementedError:
                pass
        raise PasswordSetError("no other keyring backend can store it")

    def delete_password(self, service: str, username: str) -> None:
        for ring in self.backends:
            try:
                return ring.delete_password(service, username)
            except NotImplementedError:
                pass
        raise PasswordDeleteError("no other keyring backend holds it")


def _without_us() -> Any:
    """The backend keyring would have chosen had this one not been installed: the viable one
    of highest priority, or keyring's chainer over the others when it would have won."""
    from keyring.backends import chainer, fail

    others = [
        ring
        for ring in _backend.get_all_keyring()
        if not isinstance(ring, (AnacondadKeyring, chainer.ChainerBackend))
    ]
    best = max(others, key=_backend.by_priority, default=None)
    chained = sorted(
        (ring for ring in others if ring.priority > 0), key=_backend.by_priority, reverse=True
    )
    # keyring's chainer claims 10 when it has more than one backend to chain.
    if len(chained) > 1 and (best is None or best.priority < 10):
        return _Chain(chained)
    return best if best is not None else fail.Keyring()


class AnacondadKeyring(_backend.KeyringBackend):
    """The daemon's credentials for anaconda-auth, pip and uv; the other keyring for the rest."""

    name = "anacondad"

    @properties.classproperty
    def priority(cls) -> float:  # type: ignore[override]
        # keyring leaves out a backend whose priority raises (not viable here).
        if _switched_off():
            raise RuntimeError(f"{SWITCH_ENV} turns the anacondad keyring backend off")
        return PRIORITY

    def __init__(self) -> None:
        super().__init__()
        self._next: Optional[Any] = None

    @property
    def next(self) -> Any:
        """The backend that answers what is not the daemon's."""
        if self._next is None:
            self._next = _without_us()
        return self._next

    def get_password(self, service: str, username: str) -> Optional[str]:
        if _concerns_daemon(service):
            answer = _ask("get", service, username)
            if answer is not None and answer.get("ours"):
                return answer.get("password") if answer.get("found") else None
        return self.next.get_password(service, username)

    def get_credential(self, service: str, username: Optional[str]):
        if service.startswith(("https://", "http://")):
            answer = _ask("get", service, username)
            if answer is not None and answer.get("ours"):
                if not answer.get("found"):
                    return None
                return _credentials.SimpleCredential(
                    answer.get("username") or "", answer.get("password") or ""
                )
        return self.next.get_credential(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        if service == ANACONDA_SERVICE:
            answer = _ask("set", service, username, stdin=password)
            if answer is not None and answer.get("ours"):
                _tell(answer)
                if answer.get("refused") and not answer.get("adopted"):
                    raise PasswordSetError(
                        "anacondad kept none of it: " + "; ".join(answer["refused"])
                    )
                return
        self.next.set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        if service == ANACONDA_SERVICE:
            answer = _ask("delete", service, username)
            if answer is not None and answer.get("ours"):
                if not answer.get("removed"):
                    raise PasswordDeleteError(f"anacondad holds no API key for {username}")
                return
        self.next.delete_password(service, username)


def _tell(answer: Dict[str, Any]) -> None:
    for line in answer.get("adopted") or []:
        logger.info("anacondad adopted %s", line)
    for line in answer.get("refused") or []:
        logger.warning("anacondad did not adopt %s", line)
