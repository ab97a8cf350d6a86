"""Download a registered model's files from their official source: checked, atomic, resumable by
re-running (files already present with the right checksum are kept).

Every file is streamed into a temporary name beside its target and hashed on the way; only once
all files of the model have arrived whole with the registry's checksum are they renamed into
place, so a cut connection or a wrong file never leaves a half-written model that the engine
would pick up.
"""
from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from tqdm import tqdm

from engine.errors import EngineError
from engine.registry import ModelFile, ModelSpec, model_dirs

CHUNK = 1 << 16
USER_AGENT = "vreid-model-fetch/1"


class FetchError(EngineError):
    """A download failed; the message says what and what to do."""


class Offline(FetchError):
    """The source could not be reached at all."""


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verified(path: Path, item: ModelFile) -> bool:
    """Whether `path` is the registry's file (its checksum, else its size, matches)."""
    if not path.is_file():
        return False
    algorithm, expected = item.checksum
    if algorithm:
        return file_digest(path, algorithm) == expected.lower()
    return item.size is None or path.stat().st_size == item.size


def fetch(spec: ModelSpec, dest: Optional[Path] = None, timeout: float = 30.0,
          quiet: bool = False) -> list[Path]:
    """Download the files of `spec` into `dest` (default: the first model folder); returns their
    paths. Raises Offline when the source cannot be reached, FetchError for anything else."""
    if not spec.files:
        raise FetchError(f"{spec.name} has no download source: it ships with VReID or is your own file")
    dest = Path(dest) if dest else model_dirs()[0]
    dest.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for item in spec.files:
            target = dest / item.name
            if verified(target, item):
                continue
            part = target.with_name(f".{item.name}.part")
            staged.append((part, target))  # removed in `finally` whatever happens below
            _download(item, part, timeout, quiet)
        for part, target in staged:  # all arrived whole: now they may become visible
            os.replace(part, target)
    finally:
        for part, _ in staged:
            part.unlink(missing_ok=True)
    return [dest / item.name for item in spec.files]


def _download(item: ModelFile, part: Path, timeout: float, quiet: bool) -> None:
    request = urllib.request.Request(item.url, headers={"User-Agent": USER_AGENT})
    host = urlsplit(item.url).netloc or item.url
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{item.name}: {host} answered HTTP {exc.code} for {item.url}") from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Offline(f"{item.name}: could not reach {host} ({reason}); offline? "
                      f"Copy the file from {item.url} into a model folder by hand.") from None
    algorithm, expected = item.checksum
    digest = hashlib.new(algorithm or "sha256")
    announced = response.headers.get("Content-Length")
    total = item.size or (int(announced) if announced and announced.isdigit() else None)
    received = 0
    try:
        with response, open(part, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=item.name, disable=quiet, file=sys.stderr,
        ) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    except (TimeoutError, OSError, urllib.error.URLError) as exc:
        raise FetchError(f"{item.name}: download cut off after {received:,} bytes ({exc}); "
                         "run the command again") from None
    _check(item, received, announced, digest.hexdigest(), algorithm, expected)


def _check(item: ModelFile, received: int, announced, got: str, algorithm: str, expected: str) -> None:
    if announced and announced.isdigit() and received < int(announced):
        raise FetchError(f"{item.name}: download cut off at {received:,} of {int(announced):,} bytes; "
                         "run the command again")
    if item.size is not None and received != item.size:
        raise FetchError(f"{item.name}: got {received:,} bytes, the registry says {item.size:,}; "
                         "the download was discarded")
    if algorithm and got != expected.lower():
        raise FetchError(f"{item.name}: {algorithm} checksum mismatch (expected {expected[:16]}…, "
                         f"got {got[:16]}…); the download was discarded")
