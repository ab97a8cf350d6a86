"""Content-Security-Policy header, login-required redirects, and the rate-limited login view."""
import ipaddress
import unicodedata
from functools import wraps

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import URLPattern, reverse
from django_ratelimit.core import is_ratelimited


class ContentSecurityPolicyMiddleware:
    """Adds settings.VREID_CSP to every response (VREID_CSP_ADMIN under the admin)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            admin = request.path.startswith(reverse("admin:index"))
            response["Content-Security-Policy"] = settings.VREID_CSP_ADMIN if admin else settings.VREID_CSP
        return response


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's (login everywhere unless a view is @login_not_required), except that anonymous
    visitors of any page under the admin (django-rq's included) go to the admin's own login."""

    def handle_no_permission(self, request, view_func):
        if request.path.startswith(reverse("admin:index")):
            return redirect_to_login(
                request.get_full_path(), reverse("admin:login"), self.get_redirect_field_name(view_func)
            )
        return super().handle_no_permission(request, view_func)


def forwarded_client_ip(request) -> str:
    """The client's address behind VREID_PROXY_HOPS trusted reverse proxies (django-ratelimit's
    RATELIMIT_IP_META_KEY when that is set). Each proxy appends the address it saw to
    X-Forwarded-For, so the entry `hops` from the right was written by our own first proxy; the
    entries left of it are whatever the client sent and are ignored. Without the header, or with
    something else than an address there (a request that did not pass the proxies), it is the peer
    address."""
    hops = settings.VREID_PROXY_HOPS
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    client = chain[-hops] if hops and len(chain) >= hops else request.META["REMOTE_ADDR"]
    try:
        return str(ipaddress.ip_address(client))
    except ValueError:  # not written by our proxy (which writes the address it saw): the peer's
        return request.META["REMOTE_ADDR"]


def _client_ip(request) -> str:
    from django_ratelimit.core import _get_ip  # honours RATELIMIT_IP_META_KEY, masks IPv6 to /64

    return _get_ip(request)


def login_name_key(username: str) -> str:
    """One key for every spelling Django would log in as the same account: it authenticates the
    NFKC form (`ａlice`, `al𝐢ｃe` are alice); casefold makes case variants share it too."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def _ip_and_username(group, request) -> str:
    return f"{_client_ip(request)}|{login_name_key(request.POST.get('username', ''))}"


def superusers_only(urlpatterns) -> list[URLPattern]:
    """The patterns with views that refuse (403) anyone but a superuser: django-rq's pages check
    is_staff only, yet stop, requeue and delete every user's jobs."""

    def guard(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_superuser:
                raise PermissionDenied
            return view(request, *args, **kwargs)
        return guarded

    return [URLPattern(p.pattern, guard(p.callback), p.default_args, p.name) for p in urlpatterns]


_login = auth_views.LoginView.as_view()


@login_not_required
def login_view(request, *args, **kwargs):
    """Django's LoginView, answering 429 after too many POSTs per IP and username (or per IP)."""
    if request.method == "POST":
        # Both counters always count (increment=True), so spraying usernames also hits the IP cap.
        per_user = is_ratelimited(request, group="login", key=_ip_and_username,
                                  rate=settings.VREID_LOGIN_RATE, method="POST", increment=True)
        per_ip = is_ratelimited(request, group="login-ip", key="ip",
                                rate=settings.VREID_LOGIN_RATE_PER_IP, method="POST", increment=True)
        if per_user or per_ip:
            return render(request, "429.html", status=429)
    return _login(request, *args, **kwargs)
