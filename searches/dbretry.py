"""Riding out a database that is briefly away (restart, failover, a killed connection, a locked
SQLite file) inside a worker: retry with backoff on a fresh connection, then give up cleanly.

Only for statements that are safe to repeat: guarded UPDATEs, reads, and inserts protected by a
unique constraint (hits). Never inside transaction.atomic(): a broken transaction cannot be
resumed, so there the error is raised at once.
"""
import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError)


class DatabaseUnavailable(Exception):
    """The database did not come back within the retry budget; the job is left to recovery."""


def retry_budget_s() -> float:
    # Well under the heartbeat timeout (settings.py): a worker that waits this long is not yet taken for dead.
    return float(settings.VREID_DB_RETRY_S)


def with_db_retry(fn, *args, what: str = "database write", budget_s: float | None = None, **kwargs):
    """fn(*args, **kwargs), retried on a fresh connection while the database is unreachable."""
    budget = retry_budget_s() if budget_s is None else budget_s
    deadline = time.monotonic() + budget
    delay = 0.2
    attempt = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except TRANSIENT as exc:
            if connection.in_atomic_block:
                raise
            attempt += 1
            if time.monotonic() + delay > deadline:
                log.error("%s: database unavailable for %.0f s, giving up: %s", what, budget, exc)
                raise DatabaseUnavailable(str(exc)) from exc
            log.warning("%s failed (attempt %d, retrying in %.1f s): %s", what, attempt, delay, exc)
            drop_connection()
            time.sleep(delay)
            delay = min(delay * 2, 3.0)


def drop_connection() -> None:
    """Forget the (possibly dead) connection; the next query opens a new one."""
    try:
        connection.close()
    except Exception:  # closing a dead socket may fail too; the connection is discarded anyway
        connection.connection = None
