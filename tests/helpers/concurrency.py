"""Running one piece of work in several threads at once, bounded, with every error kept for the assertion."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

JOIN_SECONDS = 60


def run_together(work: Callable, arguments: Iterable, seconds: float = JOIN_SECONDS) -> list[BaseException]:
    """Start `work(argument)` for each argument in its own thread, wait (bounded) for all, and return the
    errors they raised (none were swallowed); a thread still running then is an error too."""
    errors: list[BaseException] = []

    def guarded(argument):
        try:
            work(argument)
        except Exception as error:  # noqa: BLE001 - handed back to the test, which asserts on it
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(argument,), daemon=True) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds)
    errors.extend(TimeoutError(f"{thread.name} still running after {seconds} s") for thread in threads
                  if thread.is_alive())
    return errors
