"""Serve stored user media after the caller's ownership check, with HTTP Range support
so that browsers can seek in videos."""
import mimetypes
import re
from pathlib import PurePath

from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    if guessed:
        return guessed
    return {".mkv": "video/x-matroska", ".webm": "video/webm", ".avi": "video/x-msvideo"}.get(
        PurePath(name).suffix.lower(), "application/octet-stream"
    )


def _read_range(fh, start: int, length: int):
    fh.seek(start)
    try:
        while length > 0:
            chunk = fh.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


def serve_fieldfile(request, fieldfile, download_name: str | None = None):
    if not fieldfile or not fieldfile.name or not fieldfile.storage.exists(fieldfile.name):
        raise Http404("File not found")
    storage, name = fieldfile.storage, fieldfile.name
    size = storage.size(name)
    content_type = _content_type(download_name or name)
    match = RANGE_RE.match(request.headers.get("Range", "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        response = FileResponse(storage.open(name, "rb"), content_type=content_type)
        response["Accept-Ranges"] = "bytes"
        if download_name:
            response["Content-Disposition"] = f'inline; filename="{download_name}"'
        return response
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # suffix range: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    length = end - start + 1
    response = StreamingHttpResponse(
        _read_range(storage.open(name, "rb"), start, length), status=206, content_type=content_type
    )
    response["Content-Length"] = str(length)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response
