"""What an admin marks on index versions, kept as small JSON files beside them under the index store's
root, so every web process and the worker read the same answer from the same disk: the pin (while it is
set, automatic builds are kept but not published) and the labels. Each file is written to a temporary
name and renamed over the old one, as the `current` symlink is, so a reader sees the old or the new
file, never half of one. Callers serialise writes with the index store's publish lock.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from recommender.limits import PIN_WHY_MAX_CHARS, VERSION_LABEL_MAX_CHARS

TRIGGERS = ("upload", "items", "events", "manual", "schedule", "cli")  # what asked for a version (its manifest)
PIN_FILE = "pinned.json"
LABELS_FILE = "labels.json"
LABEL_PATTERN = re.compile(r"[\w][\w .,:;()#+\-/']*")  # letters, digits and plain punctuation, no controls


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value) -> None:
    partial = path.with_name(f".{path.name}-{secrets.token_hex(4)}")
    partial.write_text(json.dumps(value, sort_keys=True), encoding="utf-8")
    partial.replace(path)


def read_pin(root: Path) -> dict | None:
    """{"version", "since", "why"} while a version is pinned, else None."""
    pin = _read_json(root / PIN_FILE)
    return pin if isinstance(pin, dict) and isinstance(pin.get("version"), str) else None


def write_pin(root: Path, version: str, why: str) -> dict:
    pin = {"version": version, "why": why, "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _write_json(root / PIN_FILE, pin)
    return pin


def clear_pin(root: Path) -> None:
    (root / PIN_FILE).unlink(missing_ok=True)


def read_labels(root: Path) -> dict[str, str]:
    labels = _read_json(root / LABELS_FILE)
    return {k: v for k, v in labels.items() if isinstance(v, str)} if isinstance(labels, dict) else {}


def write_labels(root: Path, labels: dict[str, str]) -> None:
    _write_json(root / LABELS_FILE, labels)


def label_problem(label) -> str | None:
    """Why a label cannot be kept (None: it can); null or "" removes a label."""
    if label is None:
        return None
    if not isinstance(label, str):
        return "label must be a string or null"
    if len(label) > VERSION_LABEL_MAX_CHARS:
        return f"label must be at most {VERSION_LABEL_MAX_CHARS} characters, got {len(label)}"
    if label and not LABEL_PATTERN.fullmatch(label):
        return ("label must start with a letter or digit and hold only letters, digits, spaces and "
                ". , : ; ( ) # + - / '")
    return None


def why_problem(why) -> str | None:
    if why is None:
        return None
    if not isinstance(why, str) or not why.strip():
        return "why must be a non-empty string"
    if len(why) > PIN_WHY_MAX_CHARS or any(ord(c) < 32 for c in why):
        return f"why must be at most {PIN_WHY_MAX_CHARS} characters without control characters"
    return None
