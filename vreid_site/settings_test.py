"""Settings for pytest: a separate Redis database (flushed by the tests) and a throwaway media root."""
import os
import tempfile
from urllib.parse import urlsplit

os.environ.setdefault("SECRET_KEY", "vreid-test-only-secret-key")
os.environ.setdefault("DEBUG", "0")
# The real vehicle models beside the repo (../shared/models/omz; never committed), after the
# default folders, wherever they exist: tests that need them skip with the reason otherwise.
_SHARED_MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "models", "omz")
if "VREID_MODEL_DIRS" not in os.environ and os.path.isdir(_SHARED_MODELS):
    _REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["VREID_MODEL_DIRS"] = os.pathsep.join(
        [os.path.join(_REPO, "var", "models"), os.path.join(_REPO, "models"), os.path.normpath(_SHARED_MODELS)])

from vreid_site.settings import *  # noqa: E402,F403
from vreid_site.settings import REDIS_URL  # noqa: E402

TEST_REDIS_DB = int(os.environ.get("VREID_TEST_REDIS_DB", "15"))
REDIS_URL = urlsplit(REDIS_URL)._replace(path=f"/{TEST_REDIS_DB}").geturl()
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
CACHES = {
    "default": {
        "BACKEND": "vreid_site.redis_cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "vreid-test",
    }
}
MEDIA_ROOT = tempfile.mkdtemp(prefix="vreid-test-media-")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not shared-cache memory: the live server, the browser test's worker and the test
    # thread use the database at once, and only file locks honour the busy timeout.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(MEDIA_ROOT, "test-db.sqlite3")}  # noqa: F405

# Tests run inside a transaction that never commits, so "enqueue on commit" would never enqueue.
RQ = {**RQ, "COMMIT_MODE": "auto"}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405  (threads must not keep the test DB open)
