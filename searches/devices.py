"""The devices (cpu, cuda) that searches can run on: what the workers have, not what this
web process has.

Each worker, on whichever machine, publishes the devices its onnxruntime offers under a key of
its own in Redis, refreshed with its RQ heartbeat and expiring with it (a worker that is gone
stops offering its GPU). The search form offers their union; CPU always, since a queued search
waits for any worker.
"""
import django_rq
import redis

from engine import api
from searches.models import SearchJob
from searches.queueing import QUEUE

KEY_PREFIX = "vreid:worker-devices:"


def publish(connection, worker_name: str, ttl_s: int) -> None:
    connection.set(KEY_PREFIX + worker_name, ",".join(api.available_devices()), ex=ttl_s)


def withdraw(connection, worker_name: str) -> None:
    connection.delete(KEY_PREFIX + worker_name)


def published(connection=None) -> set[str]:
    """The devices some live worker has (empty when none is running or Redis does not answer)."""
    connection = connection or django_rq.get_connection(QUEUE)
    try:
        keys = list(connection.scan_iter(match=KEY_PREFIX + "*", count=1000))
        values = connection.mget(keys) if keys else []
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return set()
    return {device for value in values if value for device in value.decode().split(",")}


def device_choices() -> list[tuple[str, str]]:
    """SearchJob.DEVICES that a search can run on now."""
    available = published() | {"cpu"}
    return [(value, label) for value, label in SearchJob.DEVICES if value in available]
