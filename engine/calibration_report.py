"""A calibration's result as text, and written into the model card and the shipped registry."""
from __future__ import annotations

import json
import re
from pathlib import Path

from engine.registry import SHIPPED_REGISTRY, ModelSpec

START, END = "<!-- calibration:start -->", "<!-- calibration:end -->"


def calibration_text(result: dict) -> str:
    auc = f"{result['auc']:.3f}" if result["auc"] is not None else "n/a"
    same = result["same_accepted"]
    lines = [
        f"Calibrated with `python -m engine calibrate` on {', '.join(result['clips'])} "
        f"(detector {result['detector']}, every {result['stride']}. frame): "
        f"{result['same_pairs']} same-vehicle pairs (crops of one track at least 2 s apart), "
        f"{result['different_pairs']} different-vehicle pairs (tracks in view at the same time); pair AUC {auc}.",
        "",
        f"**Default threshold {result['threshold']:.3f}**: accepts {result['false_match']:.1%} of the "
        f"different-vehicle pairs and {same:.1%} of the same-vehicle pairs." if same is not None else
        f"**Default threshold {result['threshold']:.3f}**: accepts {result['false_match']:.1%} of the "
        "different-vehicle pairs.",
        "",
        "| threshold | same vehicle accepted | different vehicles accepted (false match) |",
        "|---|---|---|",
    ]
    for row in result["table"]:
        same_row = "n/a" if row["same_accepted"] is None else f"{row['same_accepted']:.1%}"
        lines.append(f"| {row['threshold']:.2f} | {same_row} | {row['false_match']:.1%} |")
    return "\n".join(lines)


def write_calibration(spec: ModelSpec, result: dict) -> list[Path]:
    """Replace the calibration section of the model card; set the threshold in the shipped
    registry when the model is one of its entries."""
    written = []
    if spec.card:
        text = spec.card.read_text(encoding="utf-8") if spec.card.exists() else f"# {spec.name}\n"
        section = f"{START}\n{calibration_text(result)}\n{END}"
        if START in text and END in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S)
        else:
            text = text.rstrip() + "\n\n## Calibration\n" + section + "\n"
        spec.card.write_text(text, encoding="utf-8")
        written.append(spec.card)
    data = json.loads(SHIPPED_REGISTRY.read_text(encoding="utf-8"))
    entry = data.get("embedders", {}).get(spec.name)
    if entry is not None:
        entry["threshold"] = result["threshold"]
        SHIPPED_REGISTRY.write_text(registry_json(data), encoding="utf-8")
        written.append(SHIPPED_REGISTRY)
    return written


def registry_json(data: dict) -> str:
    """The registry's layout: indented, with lists of plain values on one line."""
    text = json.dumps(data, indent=2)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text) + "\n"
