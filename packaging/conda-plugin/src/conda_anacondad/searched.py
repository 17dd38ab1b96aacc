"""The URLs this conda command will fetch through the handler, as conda itself works them out:
each channel it searches (``channels``, ``-c``, ``defaults`` expanded to ``default_channels``)
in each of its subdirs, kept when the ``channel_settings`` entry conda would choose for it
names ``handler``.

The first lookup of a process asks the daemon for all of them in the same ``anacondactl``
call (``credential get --also``), so a conda command costs one process however many channels
it searches. This module only lists what conda will ask for; which credential each URL needs
is still the daemon's answer. Outside conda, or when conda cannot say, the list is empty and
every URL is asked for when it is requested, as before.
"""

import logging
import threading
from typing import Callable, List, Optional, Tuple

from .entry import EntrySettings, entry_for, entry_settings
from .errors import AnacondadAuthError

log = logging.getLogger("conda_anacondad")

#: (URL, the settings of its entry): the directory conda fetches from, ending in `/`.
Expected = List[Tuple[str, EntrySettings]]


def _conda_urls() -> Optional[Tuple[List[str], list]]:
    """conda's channel URLs for its subdirs (no credentials) and its ``channel_settings``, or
    None outside conda."""
    try:
        from conda.base.context import context
        from conda.models.channel import all_channel_urls
    except ImportError:
        return None
    urls = all_channel_urls(context.channels, context.subdirs, with_credentials=False)
    return [str(url) for url in urls], list(context.channel_settings or ())


def _channel_name(url: str) -> str:
    """The channel name conda hands a handler for ``url`` (``get_channel_name_from_url``)."""
    from conda.models.channel import Channel

    return Channel.from_url(url).canonical_name


def expected_urls(handler: str, sendable: Callable[[str], bool]) -> Expected:
    """The URLs conda will fetch through ``handler`` that may carry a credential (``sendable``),
    each with its entry's settings; an entry the handler would refuse is left out (its
    request says why). Any failure to work them out gives an empty list."""
    try:
        found = _conda_urls()
        if found is None:
            return []
        urls, entries = found
        expected: Expected = []
        for url in urls:
            directory = url.rstrip("/") + "/"
            if not sendable(directory):
                continue
            name = _channel_name(url)
            entry = entry_for(name, directory, entries)
            if str(entry.get("auth") or "").strip() != handler:
                continue
            try:
                settings = entry_settings(name, directory)
            except AnacondadAuthError:
                continue
            if (directory, settings) not in expected:
                expected.append((directory, settings))
        return expected
    except Exception as e:  # noqa: BLE001 - a conda that cannot say costs lookups, not requests
        log.debug("cannot list the channels conda will search (%s): each URL is asked alone", e)
        return []


class ExpectedOnce:
    """``expected_urls`` worked out once per process (conda's channels do not change during a
    command), on first use, by one thread."""

    def __init__(self, handler: str, sendable: Callable[[str], bool]) -> None:
        self._handler = handler
        self._sendable = sendable
        self._lock = threading.Lock()
        self._urls: Optional[Expected] = None

    def __call__(self) -> Expected:
        with self._lock:
            if self._urls is None:
                self._urls = expected_urls(self._handler, self._sendable)
            return self._urls

    def forget(self) -> None:
        with self._lock:
            self._urls = None
