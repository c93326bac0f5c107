"""How much each kind of event says about a user liking an item (LIKEWISE_EVENT_WEIGHTS)."""

from __future__ import annotations

import math

DEFAULT_EVENT_WEIGHTS = {"view": 1.0, "click": 2.0, "like": 4.0, "add_to_cart": 4.0, "purchase": 6.0}
WEIGHTED_TYPES = tuple(DEFAULT_EVENT_WEIGHTS)
MAX_WEIGHT = 100.0


def parse_event_weights(text: str | None) -> dict[str, float]:
    """"view=1,click=2,..." -> weights; named types override the defaults, the rest keep theirs.

    (A rating event weighs its own value, so 'rating' is not set here.)"""
    weights = dict(DEFAULT_EVENT_WEIGHTS)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, number = part.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"LIKEWISE_EVENT_WEIGHTS: '{part.strip()}' is not type=number")
        if name not in WEIGHTED_TYPES:
            raise ValueError(f"LIKEWISE_EVENT_WEIGHTS: unknown event type '{name}'; use one of "
                             + ", ".join(WEIGHTED_TYPES))
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"LIKEWISE_EVENT_WEIGHTS: the weight of '{name}' is not a number: "
                             f"'{number.strip()}'") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_WEIGHT:
            raise ValueError(f"LIKEWISE_EVENT_WEIGHTS: the weight of '{name}' must be from 0 to {MAX_WEIGHT:g}")
        weights[name] = value
    return weights
