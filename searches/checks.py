"""Start-up checks of the search settings (`manage.py check`, and every management command)."""
from django.conf import settings
from django.core.checks import Error, register


@register()
def db_retry_below_heartbeat_timeout(app_configs=None, **kwargs):
    """A worker riding out a database outage must not look dead meanwhile: recovery would queue
    its job again while it still runs."""
    retry, timeout = settings.VREID_DB_RETRY_S, settings.VREID_HEARTBEAT_TIMEOUT_S
    if retry < timeout:
        return []
    return [Error(
        f"VREID_DB_RETRY_S ({retry:g} s) must be below VREID_HEARTBEAT_TIMEOUT_S ({timeout} s).",
        hint="A worker retrying database writes that long is taken for dead and its search resumed "
             "elsewhere while it still runs. Lower VREID_DB_RETRY_S (default: half the heartbeat timeout, at most 30).",
        id="vreid.E001",
    )]
