"""Settings of benchmarks/bench_poll_cost.py's server: the product's, with the benchmark's own
URLconf (benchmarks/poll_urls.py: a bare authenticated view and the pre-snapshot poll, for
comparison; neither is part of the product)."""
from vreid_site.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.poll_urls"
