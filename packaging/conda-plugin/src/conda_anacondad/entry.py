"""Finding the ``channel_settings`` entry a request came through, as conda found it, and what
it says beside ``auth``: which credential goes first (``credential_type``) and whose it is
(``auth_domain``), spelled as anaconda-auth spells them."""

from fnmatch import fnmatch
from typing import Any, Iterable, List, Mapping, NamedTuple
from urllib.parse import urlparse

from .errors import AnacondadAuthError

#: The values of an entry's ``credential_type``, spelled as anaconda-auth spells them.
CREDENTIAL_TYPES = ("api-key", "repo-token")


class EntrySettings(NamedTuple):
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


NO_SETTINGS = EntrySettings()


def _conda_channel_settings() -> Iterable[Mapping[str, Any]]:
    """conda's ``channel_settings``, or none outside conda."""
    try:
        from conda.base.context import context
    except ImportError:
        return ()
    return context.channel_settings or ()


def entry_for(channel_name: str, url: str, entries: Iterable[Mapping[str, Any]]):
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


def entry_settings(channel_name: str, url: str) -> EntrySettings:
    """The ``credential_type`` and ``auth_domain`` of the request's entry; a value anacondad
    cannot use is an error that names the entry and what to write instead."""
    entry = entry_for(channel_name, url, _conda_channel_settings())
    credential_type = entry.get("credential_type")
    auth_domain = entry.get("auth_domain")
    if credential_type is None and not auth_domain:
        return NO_SETTINGS
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
    return EntrySettings(
        credential_type=credential_type or "",
        auth_domain=(auth_domain or "").strip(),
    )
