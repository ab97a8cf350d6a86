"""A job's hits as CSV or JSON rows."""
import csv
import io

from django.utils import timezone

from gallery.models import describe_attributes

# A cell starting with one of these is read as a formula by spreadsheets (OWASP's CSV injection
# list: = + - @ TAB CR; also LF, and the full-width forms that some spreadsheets read the same).
FORMULA_LEADS = tuple("=+-@\t\r\n＝＋－＠")
FIELDS = [
    "vehicle_id", "vehicle_label", "file", "kind", "start_s", "end_s", "best_time_s",
    "best_frame", "start_frame", "end_frame", "distance", "x1", "y1", "x2", "y2",
    "colour_type", "detector", "embedder", "camera", "start_at", "end_at",
]


def hit_rows(job):
    hits = job.hits.select_related("vehicle", "file__footage__camera").order_by("file__position", "start_s", "pk")
    for hit in hits:
        x1, y1, x2, y2 = hit.box
        footage = hit.file.footage
        yield {
            "vehicle_id": hit.vehicle_id, "vehicle_label": hit.vehicle.label,
            "file": hit.file.original_name, "kind": hit.file.kind,
            "start_s": round(hit.start_s, 3), "end_s": round(hit.end_s, 3),
            "best_time_s": round(hit.best_time_s, 3), "best_frame": hit.best_frame,
            "start_frame": hit.start_frame, "end_frame": hit.end_frame,
            "distance": round(hit.distance, 4), "x1": x1, "y1": y1, "x2": x2, "y2": y2,
            "colour_type": describe_attributes(hit.attributes),
            "detector": job.models_used.get("detector", ""), "embedder": job.models_used.get("embedder", ""),
            "camera": str(footage.camera or "") if footage else "",
            "start_at": iso(hit.start_at), "end_at": iso(hit.end_at),
        }


def iso(at) -> str:
    """The site's local time with its UTC offset; "" when the recording start is unknown."""
    return timezone.localtime(at).isoformat() if at else ""


def to_csv(job) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    for row in hit_rows(job):
        for key in ("vehicle_label", "file", "camera"):  # user-provided text
            row[key] = neutralise_formula(row[key])
        writer.writerow(row)
    return out.getvalue()


def neutralise_formula(text: str) -> str:
    """A leading quote makes spreadsheets show the cell as text instead of evaluating it."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def to_json(job) -> dict:
    return {
        "job": {
            "id": job.pk, "name": str(job), "status": job.status, "frame_stride": job.frame_stride,
            "threshold": job.threshold, "tracking": job.tracking, "proposals": job.proposals,
            "device": job.device, "models": job.models_used,
        },
        "hits": list(hit_rows(job)),
    }
