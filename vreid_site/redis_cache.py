"""Django's Redis cache with one redis-py client per connection pool, not one per call.

Django's RedisCacheClient makes a new `redis.Redis` for every cache operation, and redis-py fills
some 170 response callbacks in each client's constructor: 0.15 ms of the 0.23 ms a snapshot read
takes here, on every session read and every progress poll. A redis-py client is safe to share
between threads (each command takes a connection from the pool), so one per pool does.
"""
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingClient
