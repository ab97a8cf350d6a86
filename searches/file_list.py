"""The file list of a job page, bounded while the job runs.

The progress fragment is re-rendered every second for as long as a job runs; a zip of thousands
of images must not make each poll render thousands of rows. While the job is active and has more
than ACTIVE_ROWS files, the page shows the counts per status and only the rows worth watching
(running, failed, skipped); the whole list appears once the job has ended.

A file's status is shown as its job's state makes it read: the file a paused job was on is
"Paused", not "Pending", and one whose worker is still stopping is "Stopping…", not "Running".
"""
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count

from searches.models import SearchFile, SearchJob

ACTIVE_ROWS = 50
WATCHED = (SearchFile.Status.RUNNING, SearchFile.Status.FAILED, SearchFile.Status.SKIPPED)


@dataclass
class FileList:
    rows: list
    counts: Counter = field(default_factory=Counter)  # status -> number of files
    total: int = 0
    bounded: bool = False  # rows are only the watched files (at most ACTIVE_ROWS)

    @property
    def summary(self) -> str:
        """"8 pending · 1 running · 3 done": the statuses present, in SearchFile.Status order."""
        return " · ".join(f"{self.counts[s.value]} {s.label.lower()}" for s in SearchFile.Status if self.counts[s.value])


def file_list(job: SearchJob) -> FileList:
    """One query for a small job or a finished one; three for a big running one."""
    files = job.files.all()
    if job.is_finished:
        rows = list(files)
    else:
        rows = list(files[:ACTIVE_ROWS + 1])
        if len(rows) > ACTIVE_ROWS:
            counts = Counter(dict(files.order_by().values_list("status").annotate(n=Count("pk"))))
            watched = _shown(job, files.filter(status__in=WATCHED)[:ACTIVE_ROWS])
            return FileList(watched, counts, sum(counts.values()), bounded=True)
    return FileList(_shown(job, rows), Counter(f.status for f in rows), len(rows))


def _shown(job: SearchJob, rows) -> list:
    """The rows, each with `shown_status` and `shown_class` (its CSS class) for the page."""
    for row in rows:
        row.shown_class, row.shown_status = row.status, row.get_status_display()
        if row.status == SearchFile.Status.RUNNING and job.status != SearchJob.Status.RUNNING:
            row.shown_class, row.shown_status = "paused", "Stopping…"
        elif row.status == SearchFile.Status.PENDING and job.status == SearchJob.Status.PAUSED and row.progress:
            row.shown_class, row.shown_status = "paused", "Paused"
    return list(rows)
