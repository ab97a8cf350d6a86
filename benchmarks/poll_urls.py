"""The product's URLs plus two benchmark-only views (benchmarks/bench_poll_cost.py):

- /bench/bare/: an authenticated view that returns a constant (session, user, nothing else);
- /bench/poll-db/<pk>/: the progress poll as it was before the snapshot (main's JobProgressView
  without its recovery check: the job, its hits version and files read and rendered every time).
"""
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path
from django.views import View
from django.views.generic.detail import SingleObjectMixin

from gallery.views import OwnedMixin
from searches.models import SearchJob
from searches.views import progress_fragment
from vreid_site.urls import urlpatterns as product


@login_required
def bare(request):
    return HttpResponse(b'<div id="job-progress">ok</div>')


class DatabasePoll(OwnedMixin, SingleObjectMixin, View):
    model = SearchJob

    def get(self, request, *args, **kwargs):
        return progress_fragment(request, self.get_object())


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/poll-db/<int:pk>/", DatabasePoll.as_view()),
    *product,
]
