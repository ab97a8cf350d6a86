"""VReID settings. Everything deployment-specific comes from the environment.

Several web processes and `manage.py rqworker` processes on several machines may share one
database, one Redis and one media storage, so nothing here keeps state in process memory.
"""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VREID_VAR_DIR", BASE_DIR / "var"))
# The database, media, secret key and credentials live here: only the account running VReID
# (web and workers, on every machine sharing it) may read them.
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
if VAR_DIR.stat().st_uid == os.getuid():
    VAR_DIR.chmod(0o700)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEFAULT_SECRET_KEY = "django-insecure-vreid-development-key-change-me"
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "Set SECRET_KEY in the environment (or DEBUG=1 for local development): "
        "the built-in key is public."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "gallery",
    "searches",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Login required everywhere unless a view opts out with @login_not_required.
    "vreid_site.security.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "vreid_site.security.ContentSecurityPolicyMiddleware",
]

# Security headers and HTTPS. VREID_HTTPS=1 in production (directly on TLS or behind a TLS proxy:
# then also VREID_PROXY_SSL_HEADER=1 so that X-Forwarded-Proto: https is trusted) turns on HSTS,
# secure cookies and the redirect to https; each can be set on its own (SECURE_SSL_REDIRECT=0 when
# the proxy already redirects). Off by default: scripts/start.sh serves plain http on 127.0.0.1.
VREID_HTTPS = env_bool("VREID_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", VREID_HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if VREID_HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", VREID_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", VREID_HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", VREID_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", VREID_HTTPS)
if env_bool("VREID_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Scripts and styles only from our own static files (htmx is vendored); no inline code.
VREID_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Django's admin and django-rq's pages (staff only) use inline scripts and styles.
VREID_CSP_ADMIN = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Login attempts per client IP and username, and per client IP (django-ratelimit, Redis cache).
VREID_LOGIN_RATE = os.environ.get("VREID_LOGIN_RATE", "10/m")
VREID_LOGIN_RATE_PER_IP = os.environ.get("VREID_LOGIN_RATE_PER_IP", "100/m")
# Reverse proxies in front of the app that append to X-Forwarded-For (0: clients connect directly).
# Behind one, every client would otherwise share the proxy's address and its login limit.
VREID_PROXY_HOPS = int(os.environ.get("VREID_PROXY_HOPS", "0"))
if VREID_PROXY_HOPS:
    RATELIMIT_IP_META_KEY = "vreid_site.security.forwarded_client_ip"

ROOT_URLCONF = "vreid_site.urls"
WSGI_APPLICATION = "vreid_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        # Web and worker processes write concurrently: wait for the lock instead of failing.
        "timeout": 20,
        # WAL: pages read while a worker commits progress (a rollback journal makes readers wait,
        # sleeping 1, 2, 5, 10... ms per retry); NORMAL sync is durable in WAL up to a power cut.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        # A transaction takes the write lock when it begins, so two writers queue on the busy
        # timeout instead of one failing at once when it upgrades from reading to writing.
        "transaction_mode": "IMMEDIATE",
    })
# A persistent connection killed by a database restart is replaced, not reused for a request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 24 * 3600},
}
# Fails jobs whose worker died before it starts working (see searches/worker.py).
RQ = {"WORKER_CLASS": "searches.worker.VReIDWorker"}
# django-rq's pages are at /admin/rq/, for superusers only (vreid_site/urls.py); not a second
# copy inside the admin, which lets in any staff user.
RQ_SHOW_ADMIN_LINK = False

CACHES = {
    "default": {
        "BACKEND": "vreid_site.redis_cache.RedisCache",  # one client per pool (see there)
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "vreid",
    }
}
RATELIMIT_USE_CACHE = "default"
# Sessions are read on every request (the job page polls every second): from Redis, written
# through to the database, so a Redis flush or restart logs nobody out.
SESSION_ENGINE = "vreid_site.sessions"  # cached_db, refusing forged keys

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False  # English only; on, every {% url %} and template variable looks up the active language (a fifth of the gallery page)
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
WHITENOISE_USE_FINDERS = True  # serve static/ without collectstatic for a local install
WHITENOISE_ROOT = BASE_DIR / "static" / "root"  # served at the site's root: /favicon.ico

# User media is never served from a public URL: views check ownership (see gallery/files.py).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media-not-public/"

VREID_MAX_UPLOAD_MB = int(os.environ.get("VREID_MAX_UPLOAD_MB", "2048"))
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("VREID_MAX_UPLOAD_FILES", "1000"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploads stream to temp files
# The limit is enforced while the upload streams in (vreid_site/upload_limits.py), not after.
FILE_UPLOAD_HANDLERS = [
    "vreid_site.upload_limits.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Stored media: data, never executable, readable only by the account running VReID (workers on
# other machines sharing MEDIA_ROOT run as that same user).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Zip archives (searches/zips.py): a member compressed more than this is skipped, an archive that
# unpacks to more than this times its own size is refused (zip bombs); files and megabytes
# extracted per upload request, all its archives together.
VREID_ZIP_MAX_RATIO = int(os.environ.get("VREID_ZIP_MAX_RATIO", "100"))
VREID_ZIP_MAX_FILES = int(os.environ.get("VREID_ZIP_MAX_FILES", "2000"))
VREID_ZIP_MAX_MB = int(os.environ.get("VREID_ZIP_MAX_MB", str(4 * 1024)))
# What one user's uploads may occupy (search files, gallery photos); 0 = no quota.
VREID_USER_QUOTA_MB = int(os.environ.get("VREID_USER_QUOTA_MB", str(50 * 1024)))
VREID_HEARTBEAT_TIMEOUT_S = int(os.environ.get("VREID_HEARTBEAT_TIMEOUT_S", "60"))
# Recovery (searches/staleness.py): a job whose worker died is resumed this many times, then failed;
# idle workers look for dead or lost jobs this often; a worker retries database writes this long.
VREID_MAX_RECOVERIES = int(os.environ.get("VREID_MAX_RECOVERIES", "3"))
VREID_RECOVER_EVERY_S = float(os.environ.get("VREID_RECOVER_EVERY_S", "15"))
# Must stay below the heartbeat timeout (checked at start-up: searches/checks.py).
VREID_DB_RETRY_S = float(os.environ.get("VREID_DB_RETRY_S", str(min(30.0, VREID_HEARTBEAT_TIMEOUT_S / 2))))
# A search running longer than this is killed by its worker (RQ's job timeout).
VREID_JOB_TIMEOUT_S = int(os.environ.get("VREID_JOB_TIMEOUT_S", str(7 * 24 * 3600)))
VREID_DEFAULT_DEVICE = os.environ.get("VREID_DEFAULT_DEVICE", "cpu")
# Model names from models/registry.json or .onnx paths; empty = the registry's defaults.
VREID_DETECTOR = os.environ.get("VREID_DETECTOR", "")
VREID_EMBEDDER = os.environ.get("VREID_EMBEDDER", "")
# Empty: the detector's own min_score (its registry entry; the ensemble's differs from NanoDet's).
VREID_MIN_SCORE = float(os.environ["VREID_MIN_SCORE"]) if os.environ.get("VREID_MIN_SCORE") else None
# onnxruntime threads per model in a worker (0 = all cores). On a machine that also serves the
# web app, 1 leaves a core to the web server.
VREID_ENGINE_THREADS = int(os.environ.get("VREID_ENGINE_THREADS", "0"))
# Sighting vectors a process keeps loaded across users' footage indexes (searches.footage.index):
# the least recently used indexes are dropped beyond it. 1M vectors of 1280-d are ~2.6 GB (IVF).
VREID_SIGHTINGS_CACHE_VECTORS = int(os.environ.get("VREID_SIGHTINGS_CACHE_VECTORS", "1000000"))
# Registration uploads whose vehicle was never picked are deleted after this many hours.
VREID_PENDING_TTL_H = float(os.environ.get("VREID_PENDING_TTL_H", "24"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"faiss.loader": {"level": "WARNING"}},
}
