"""The module conda loads through the ``conda`` entry point: registers the ``anacondad`` handler."""

from .auth import HANDLER_NAME, AnacondadAuth

try:
    from conda import plugins as _plugins
    from conda.plugins.types import CondaAuthHandler as _CondaAuthHandler
except ImportError:  # pragma: no cover - depends on the environment
    _plugins = None

__all__ = ["conda_auth_handlers"]

if _plugins is not None:

    @_plugins.hookimpl
    def conda_auth_handlers():
        """Offers the handler that ``channel_settings`` entries select with ``auth: anacondad``."""
        yield _CondaAuthHandler(name=HANDLER_NAME, handler=AnacondadAuth)

else:

    def conda_auth_handlers():
        """Without conda there is nothing to register with."""
        return iter(())
