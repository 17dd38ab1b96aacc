"""The module conda loads through the ``conda`` entry point: registers the ``anacondad`` handler,
the ``anacondad`` check of ``conda doctor`` and the hint on refused requests."""

from .auth import HANDLER_NAME, AnacondadAuth
from .health import HEALTH_CHECK_NAME, error_hints, health_check, health_fix

try:
    from conda import plugins as _plugins
    from conda.plugins.types import CondaAuthHandler as _CondaAuthHandler
except ImportError:  # pragma: no cover - depends on the environment
    _plugins = None

try:  # conda >= 23.x has health checks; an older conda still gets the handler.
    from conda.plugins.types import CondaHealthCheck as _CondaHealthCheck
except ImportError:  # pragma: no cover - depends on the environment
    _CondaHealthCheck = None

__all__ = ["conda_auth_handlers", "conda_health_checks", "conda_error_hints"]

if _plugins is not None:

    @_plugins.hookimpl
    def conda_auth_handlers():
        """Offers the handler that ``channel_settings`` entries select with ``auth: anacondad``."""
        yield _CondaAuthHandler(name=HANDLER_NAME, handler=AnacondadAuth)

if _plugins is not None and _CondaHealthCheck is not None:

    @_plugins.hookimpl
    def conda_health_checks():
        """``conda doctor`` runs ``anacondactl doctor`` and shows its findings."""
        yield _CondaHealthCheck(
            name=HEALTH_CHECK_NAME,
            action=health_check,
            fixer=health_fix,
            summary="Check anacondad: the daemon, credentials, the service and conda's configuration",
            fix="Apply anacondactl's fixes to conda's configuration",
        )

if _plugins is not None and hasattr(
    getattr(_plugins, "hookspec", None), "CondaSpecs"
) and hasattr(_plugins.hookspec.CondaSpecs, "conda_error_hints"):

    @_plugins.hookimpl
    def conda_error_hints(error):
        """On a refused request our handler served, names the anacondactl command to run."""
        yield from error_hints(error)

if _plugins is None:

    def conda_auth_handlers():
        """Without conda there is nothing to register with."""
        return iter(())
