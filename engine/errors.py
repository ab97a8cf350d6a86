"""Engine exceptions. Every message names the file and what is wrong, for showing to users."""


class EngineError(Exception):
    """Base class of all errors the engine raises on purpose."""


class MediaError(EngineError):
    """A media file cannot be read: corrupt, truncated, unsupported, empty, too large."""


class ModelError(EngineError):
    """A model file or model registry entry is missing or malformed."""


class GalleryError(EngineError):
    """A gallery index is missing, corrupt or built with another embedder."""


class Interrupted(Exception):
    """Raised when the caller's stop check asks to pause or cancel.

    `resume_frame` is the first frame not yet processed, so a paused video can be resumed.
    """

    def __init__(self, reason: str, resume_frame: int = 0):
        super().__init__(f"{reason} at frame {resume_frame}")
        self.reason = reason
        self.resume_frame = resume_frame
