"""Recording start times that cameras, DVRs/NVRs and phones write into file names.

Every pattern puts the year first: day-first and month-first names (05-11-2023) are ambiguous,
so they are not read. Date-times in names are the camera's local time, hence naive datetimes;
only Unix seconds come out aware (UTC).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

# Year, month, day, then hour, minute, second; each group shares one separator (or none), so
# Hikvision `20231105143022`, `20231105_143022`, `2023-11-05_14-30-22`, `2023-11-05 14.30.22`,
# ISO `2023-11-05T14:30:22` and Dahua `2023-11-05.14.30.22-14.45.00` all fit. Milliseconds
# glued to the seconds (Hikvision NVR, Pixel) or after a dot are consumed, then dropped.
_DATE_TIME = re.compile(
    r"(?<!\d)(?P<Y>(?:19|20)\d\d)(?P<ds>[-_.]?)(?P<m>\d\d)(?P=ds)(?P<d>\d\d)"
    r"(?:[ _T.-]|[ _]at[ _])?"
    r"(?P<H>\d\d)(?P<ts>[-_.:]?)(?P<M>\d\d)(?P=ts)(?P<S>\d\d)"
    r"(?:[.,]\d{1,6}|\d{3})?(?!\d)"
)
# Dahua keeps the date in a folder: 2023-11-05/001/dav/14/14.30.22-14.45.00[R][0@0][0].dav
_DATE_FOLDER = re.compile(r"(?P<Y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)")
_TIME_RANGE = re.compile(r"(?P<H>\d\d)\.(?P<M>\d\d)\.(?P<S>\d\d)-\d\d\.\d\d\.\d\d(?!\d)")
# Unix seconds: ten digits, no leading zero (that is a padded counter), cover 2001-09-09 on.
_EPOCH = re.compile(r"(?<![\d.])[1-9]\d{9}(?!\d)")


def name_times(name: str) -> Iterator[datetime]:
    """Candidate start times in `name` (a file name, or a relative path with its folders),
    best first: date-times left to right, then a Dahua folder date, then Unix seconds.
    Impossible dates (month 13) are skipped; plausibility is the caller's test."""
    parts = [p for p in re.split(r"[\\/]", name) if p]
    if not parts:
        return
    base = parts[-1]
    for match in _DATE_TIME.finditer(base):
        yield from _built(match.groupdict())
    yield from _dahua(parts)
    for match in _EPOCH.finditer(base):
        yield datetime.fromtimestamp(int(match.group()), UTC)


def _dahua(parts: list[str]) -> Iterator[datetime]:
    time = _TIME_RANGE.match(parts[-1])
    if not time:
        return
    for folder in reversed(parts[:-1]):  # the nearest date folder wins
        date = _DATE_FOLDER.fullmatch(folder)
        if date:
            yield from _built(date.groupdict() | time.groupdict())
            return


def _built(fields: dict[str, str]) -> Iterator[datetime]:
    try:
        at = datetime(*(int(fields[k]) for k in ("Y", "m", "d", "H", "M", "S")))
    except ValueError:  # month 13, 25 o'clock, 30 February: not a date, look further
        return
    yield at
