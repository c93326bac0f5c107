"""Signed tokens for the impression beacon (/i/<token>.gif) and the click redirect (/r/<token>).

A token carries what was shown, never a URL: the redirect looks its target up from the item id, so a
token cannot send anyone off-site. Tokens are signed with the app's SECRET_KEY (a different salt per
kind, so a beacon token is no click token) and expire. They are packed (recommender.metrics.compact):
a panel carries one click token per card, so their length is what tracking adds to its HTML.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from typing import Callable

from recommender.metrics.compact import CompactSigner, Packer, TokenRefused, Unpacker

TOKEN_MAX_AGE_SECONDS = 30 * 86_400
TOKEN_FUTURE_LEEWAY_SECONDS = 300  # clocks of web processes on different hosts may disagree this much
# The salts name the kind and the packed layout: a change of either fields or order takes a new salt.
BEACON_SALT = "likewise.impression-beacon.packed-1"
CLICK_SALT = "likewise.click-redirect.packed-1"
SURFACES = ("page", "embed", "api")
IMPRESSION_ID_BYTES = 12


@dataclass(frozen=True)
class Impression:
    """One similar-items panel as rendered: which version and arm answered, for what, with what."""

    impression_id: str
    version: str
    source: str
    k: int
    shown: tuple[str, ...]
    surface: str
    arm: str | None = None
    experiment_id: str | None = None

    @classmethod
    def new(cls, version: str, source: str, k: int, shown, surface: str, arm: str | None = None,
            experiment_id: str | None = None) -> "Impression":
        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {', '.join(SURFACES)}, got {surface!r}")
        return cls(secrets.token_urlsafe(IMPRESSION_ID_BYTES), version, source, int(k), tuple(shown), surface,
                   arm, experiment_id)

    def pack(self) -> Packer:
        """Everything but the shown list, in the order `unpack` reads it."""
        return (Packer().text(self.impression_id).text(self.version).text(self.source).uint(self.k)
                .uint(SURFACES.index(self.surface)).maybe_text(self.arm).maybe_text(self.experiment_id))

    @classmethod
    def unpack(cls, reader: Unpacker) -> "Impression":
        impression_id, version, source, k, surface = (reader.text(), reader.text(), reader.text(), reader.uint(),
                                                      reader.uint())
        if surface >= len(SURFACES):
            raise TokenRefused("the token names an unknown surface")
        return cls(impression_id, version, source, k, (), SURFACES[surface], reader.maybe_text(),
                   reader.maybe_text())


@dataclass(frozen=True)
class Click:
    """A click on the card at `position` (1-based) of an impression, naming the item clicked."""

    impression: Impression
    position: int
    item_id: str


class TokenSigner:
    """Signs and checks beacon and click tokens with one secret key."""

    def __init__(self, secret_key: str | bytes, max_age: int = TOKEN_MAX_AGE_SECONDS,
                 clock: Callable[[], float] = time.time):
        if not secret_key:
            raise ValueError("a secret key is needed to sign tracking tokens")
        self._beacon = CompactSigner(secret_key, BEACON_SALT, max_age, TOKEN_FUTURE_LEEWAY_SECONDS, clock)
        self._click = CompactSigner(secret_key, CLICK_SALT, max_age, TOKEN_FUTURE_LEEWAY_SECONDS, clock)

    def beacon_token(self, impression: Impression) -> str:
        fields = impression.pack().uint(len(impression.shown))
        for item_id in impression.shown:
            fields.text(item_id)
        return self._beacon.sign(fields)

    def click_token(self, impression: Impression, position: int, item_id: str) -> str:
        """Only what the redirect needs to record the click; the shown list stays in the impression."""
        return self._click.sign(impression.pack().uint(position).text(item_id))

    def read_beacon(self, token: str) -> Impression:
        reader = self._beacon.unsign(token)
        impression = Impression.unpack(reader)
        shown = tuple(reader.text() for _ in range(reader.uint()))
        reader.end()
        return replace(impression, shown=shown)

    def read_click(self, token: str) -> Click:
        reader = self._click.unsign(token)
        impression = Impression.unpack(reader)
        position, item_id = reader.uint(), reader.text()
        reader.end()
        if not 1 <= position <= max(impression.k, 1):
            raise TokenRefused("the token's position is outside the panel")
        return Click(impression, position, item_id)
