"""WSGI entry point (gunicorn vreid_site.wsgi or any WSGI server)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vreid_site.settings")
django_application = get_wsgi_application()

from searches.fast_poll import FastPoll  # noqa: E402  (needs the apps loaded above)

# Unchanged progress polls are answered before Django's middleware (see searches.fast_poll).
application = FastPoll(django_application)
