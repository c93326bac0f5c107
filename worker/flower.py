"""`python -m worker.flower [flower options]`: Flower, with its basic auth taken from the environment.

Flower reads FLOWER_BASIC_AUTH itself, so the credentials never appear on a command line where
`ps` shows them to every local user. Flower shows task arguments and can revoke jobs, so it refuses
to start without them.
"""

from __future__ import annotations

import os
import sys

AUTH_VARIABLE = "FLOWER_BASIC_AUTH"


def auth_problem(value: str | None) -> str | None:
    """Why the credentials cannot be used, or None when they can."""
    if not value:
        return f"{AUTH_VARIABLE} is required (user:password): Flower is never served without auth"
    pairs = value.split(",")
    if any(":" not in pair or not pair.split(":", 1)[0] or not pair.split(":", 1)[1] for pair in pairs):
        return f"{AUTH_VARIABLE} must be user:password (several separated by commas)"
    return None


def main(argv: list[str]) -> int:
    problem = auth_problem(os.environ.get(AUTH_VARIABLE))
    if problem:
        print(f"Cannot start Flower: {problem}", file=sys.stderr)
        return 2
    os.execv(sys.executable, [sys.executable, "-m", "celery", "--app", "worker.celery_app", "flower", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
