"""Refuse an upload over VREID_MAX_UPLOAD_MB while it streams in, before it is stored in full.

`UploadLimitHandler` runs first among FILE_UPLOAD_HANDLERS. It refuses at once when the request's
Content-Length already says too much, else counts the file bytes as they arrive; past the limit it
stops the upload (Django deletes the partial temp files and reads the rest of the body away
without storing it, so the browser gets the page rather than a reset connection). The view asks
`upload_refusal(request)` and shows the message instead of processing a partial upload.
"""
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

ATTRIBUTE = "vreid_upload_refused"


def limit_bytes() -> int:
    return settings.VREID_MAX_UPLOAD_MB * 1024 * 1024


def refusal_message() -> str:
    return f"The upload is larger than {settings.VREID_MAX_UPLOAD_MB} MB and was not accepted."


class UploadLimitHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.total = 0
        self.declared_too_big = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Form fields besides the files are capped by DATA_UPLOAD_MAX_MEMORY_SIZE, and multipart
        # headers are small: a body larger than the limit plus those is certainly too big.
        slack = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) + 1024 * 1024
        self.declared_too_big = content_length > limit_bytes() + slack
        return None  # let Django parse

    def _refuse(self):
        if self.request is not None:
            setattr(self.request, ATTRIBUTE, refusal_message())
        raise StopUpload(connection_reset=False)

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.declared_too_big:
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        if self.total > limit_bytes():
            self._refuse()
        return raw_data  # the next handler (memory or temp file) stores it

    def file_complete(self, file_size):
        return None


def upload_refusal(request) -> str:
    """The refusal message when the request's upload went over the limit, else ''."""
    if request.method == "POST":
        request.FILES  # noqa: B018  (parse the body now)
    return getattr(request, ATTRIBUTE, "")


class UploadLimitMixin:
    """For a FormView taking uploads: an upload over the limit shows the empty form again with
    the reason (HTTP 413) instead of processing what arrived of it."""

    def post(self, request, *args, **kwargs):
        refused = upload_refusal(request)
        if not refused:
            return super().post(request, *args, **kwargs)
        from django.contrib import messages

        messages.error(request, refused)
        kwargs = {k: v for k, v in self.get_form_kwargs().items() if k not in ("data", "files")}
        response = self.render_to_response(self.get_context_data(form=self.get_form_class()(**kwargs)))
        response.status_code = 413
        return response
