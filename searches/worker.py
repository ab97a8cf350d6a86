"""The RQ worker class used by `manage.py rqworker` (settings.RQ["WORKER_CLASS"]).

On top of RQ's forking worker:
* recovery (searches/staleness.py) on start and every VREID_RECOVER_EVERY_S while idle: jobs
  whose worker died are resumed, queued jobs lost from Redis are queued again;
* a work-horse that dies (killed, out of memory, crashed) gets its job recovered at once instead
  of after the heartbeat timeout;
* a Redis restart or outage while a job runs does not kill this process (RQ would quit and leave
  the work-horse running unsupervised): the horse keeps working, its state is in the database;
* with each heartbeat it publishes the devices it can run searches on (searches/devices.py).

The parent never keeps a database connection open across a fork (the horse must get its own).
"""
import logging
import os
import time

import redis
from django.conf import settings
from django.db import connections
from rq import Worker

from searches import devices, staleness

log = logging.getLogger(__name__)
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def recover_every_s() -> float:
    return float(settings.VREID_RECOVER_EVERY_S)


def _recover(action, *args) -> None:
    try:
        action(*args)
    except Exception as exc:  # database or Redis away: the next round tries again
        log.warning("job recovery did not run: %s: %s", type(exc).__name__, exc)
    finally:
        connections.close_all()


class VReIDWorker(Worker):
    _last_recovery = 0.0

    def work(self, *args, **kwargs):
        self.recover()  # jobs left "running" by a worker that died, or lost from Redis
        return super().work(*args, **kwargs)

    def recover(self) -> None:
        self._last_recovery = time.monotonic()
        _recover(staleness.recover_all)

    # -- periodic recovery while waiting for work ----------------------------------------
    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, int(recover_every_s())))

    @property
    def should_run_maintenance_tasks(self):
        return super().should_run_maintenance_tasks or time.monotonic() - self._last_recovery >= recover_every_s()

    def run_maintenance_tasks(self):
        if super().should_run_maintenance_tasks:
            super().run_maintenance_tasks()
        if time.monotonic() - self._last_recovery >= recover_every_s():
            self.recover()

    # -- a dead work-horse -------------------------------------------------------------------
    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        try:
            job_pk = int(job.args[0])
        except Exception:
            return
        how = f"signal {os.WTERMSIG(ret_val)}" if ret_val and os.WIFSIGNALED(ret_val) else f"status {ret_val}"
        if self._stop_requested:  # shut down with its worker (a deploy): not the job's fault
            _recover(staleness.recover_dead_job, job_pk, job.id, "its worker was shut down", False)
        else:
            _recover(staleness.recover_dead_job, job_pk, job.id, f"the worker process running it died ({how})")

    # -- Redis going away must not take the worker down ------------------------------------
    def heartbeat(self, timeout=None, pipeline=None):
        try:
            super().heartbeat(timeout, pipeline)
            # Lives as long as the worker's own key in Redis: RQ's next heartbeat is due before.
            devices.publish(self.connection, self.name, timeout or self.worker_ttl + 60)
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: heartbeat to Redis failed: %s", self.name, exc)

    def register_death(self):
        devices.withdraw(self.connection, self.name)
        super().register_death()

    def maintain_heartbeats(self, job, execution):
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: job heartbeat to Redis failed: %s", self.name, exc)

    def execute_job(self, job, queue):
        try:
            super().execute_job(job, queue)
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: lost Redis while running %s: %s", self.name, job.id, exc)
            if self._horse_pid:
                self.wait_for_horse()  # the job's state is in the database; let it finish
                self._horse_pid = 0
