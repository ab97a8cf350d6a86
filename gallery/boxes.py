"""Boxes (x1, y1, x2, y2 in image pixels) as pages draw them: in percent of the image."""


def percent_box(box, width: int, height: int) -> dict:
    """left/top/width/height in percent of a width x height image (static/js/layout.js places them)."""
    x1, y1, x2, y2 = box
    return {"left": 100 * x1 / width, "top": 100 * y1 / height,
            "width": 100 * (x2 - x1) / width, "height": 100 * (y2 - y1) / height}
