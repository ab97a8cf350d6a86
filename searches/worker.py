"""The RQ worker class used by `manage.py rqworker` (settings.RQ["WORKER_CLASS"])."""
from rq import Worker

from searches.staleness import fail_stale_jobs


class VReIDWorker(Worker):
    def work(self, *args, **kwargs):
        fail_stale_jobs()  # jobs left "running" by a worker that died
        return super().work(*args, **kwargs)
