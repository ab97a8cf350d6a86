"""Overlapped decoding: a thread decodes frames a few ahead of the pipeline, so decoding runs
while the detector and the embedder work (OpenCV's decoder and the inference runtimes release
the GIL).

    with FrameReader(path, stride, start_frame) as frames:
        for index, time_s, frame in frames:
            ...

The queue is bounded (`ahead` frames), so memory stays flat whatever the video's length. The
thread stops when the reader closes: at the end of the video, when the consumer stops early
(pause, cancel: `Interrupted` raised inside the `with`) or fails, and when decoding fails (the
error is raised in the consumer's thread). A frame the decoder cannot read ends the video there,
as `media.iter_frames` does. No thread outlives the `with` block.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Optional

import numpy as np

from engine.media import iter_frames

DECODE_AHEAD = 4
_PUT_WAIT_S = 0.05  # how often a blocked producer looks at the stop flag
_END = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class FrameReader:
    def __init__(self, path, stride: int = 1, start_frame: int = 0, ahead: int = DECODE_AHEAD):
        self.path, self.stride, self.start_frame = path, stride, start_frame
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> FrameReader:
        # (A missing or unreadable file fails on the first frame: raised by __iter__.)
        self._frames = iter_frames(self.path, self.stride, self.start_frame)
        self._thread = threading.Thread(target=self._run, name="vreid-decode", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        if self._thread is None:
            raise RuntimeError("FrameReader is used as a context manager")
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop the decoding thread and wait for it (idempotent)."""
        self._stop.set()
        thread = self._thread
        while thread is not None and thread.is_alive():
            self._drain()  # a producer blocked on a full queue sees the stop flag within _PUT_WAIT_S
            thread.join(_PUT_WAIT_S)
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _run(self) -> None:
        frames = self._frames
        try:
            for item in frames:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_Failed(exc))
        finally:
            frames.close()  # releases the VideoCapture in this thread

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_PUT_WAIT_S)
                return True
            except queue.Full:
                continue
        return False
