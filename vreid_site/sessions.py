"""Django's cached_db sessions, refusing session keys Django could not have made.

A forged session cookie reached the database as it was: with a NUL byte in it PostgreSQL
refused the query and the page answered 500. Such a key now counts as no session.
"""
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS


class SessionStore(cached_db.SessionStore):
    def _validate_session_key(self, key):
        return super()._validate_session_key(key) and len(key) <= 40 and set(key) <= set(VALID_KEY_CHARS)
