"""How long, and how fast: figures of a search as its pages show them."""
from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """4.2 -> "4 s", 75 -> "1 min 15 s", 7260 -> "2 h 01 min" ("" for no value)."""
    if seconds is None or seconds == "":
        return ""
    total = int(round(float(seconds)))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
