"""Serve stored user media after the caller's ownership check, with HTTP Range support
so that browsers can seek in videos.

The content type comes from the file's first bytes (its real kind), never from its name or the
uploader: only images and videos that pages render are served inline, with a type from a fixed
allowlist; anything else goes out as application/octet-stream, as an attachment, with nosniff.
An uploaded .html or .svg is never served as text/html or image/svg+xml.
"""
import re
from pathlib import PurePath

from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

# At most 18 digits (under 2**63): a longer number is no offset in any file, and int() refuses
# more than 4300 digits. A Range that does not match is ignored: the whole file is sent.
RANGE_RE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")
CHUNK = 256 * 1024
OCTET_STREAM = "application/octet-stream"
# Types that <img> and <video> on our pages display; served inline.
INLINE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp",
    "video/mp4", "video/webm", "video/quicktime", "video/x-matroska",
})
# Anything else sniffed (TIFF, AVI, MPEG, WMV...) is served as an attachment with its type.


def sniff_content_type(head: bytes) -> str:
    """The media type of a file from its first bytes; application/octet-stream if unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:2] == b"BM" and len(head) >= 26:
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3") or (head[:1] == b"G" and head[188:189] == b"G"):
        return "video/mpeg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "video/x-ms-wmv"
    return OCTET_STREAM


def _secure(response, content_type: str, download_name: str):
    """Headers that keep a browser from running or re-interpreting user media."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
    )
    inline = content_type in INLINE_TYPES
    response["Content-Disposition"] = content_disposition_header(not inline, download_name)
    return response


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
    download_name = PurePath(download_name or name).name
    match = RANGE_RE.match(request.headers.get("Range", "").strip())
    whole = not match or (not match.group(1) and not match.group(2))
    if not whole:
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:  # suffix range: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
    fh = storage.open(name, "rb")  # one open: sniffed, then served
    content_type = sniff_content_type(fh.read(512)) if size else OCTET_STREAM
    fh.seek(0)
    if whole:
        response = FileResponse(fh, content_type=content_type)
        response["Accept-Ranges"] = "bytes"
        return _secure(response, content_type, download_name)
    length = end - start + 1
    response = StreamingHttpResponse(_read_range(fh, start, length), status=206, content_type=content_type)
    response["Content-Length"] = str(length)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return _secure(response, content_type, download_name)
