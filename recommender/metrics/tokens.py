"""Signed tokens for the impression beacon (/i/<token>.gif) and the click redirect (/r/<token>).

A token carries what was shown, never a URL: the redirect looks its target up from the item id, so a
token cannot send anyone off-site. Tokens are signed with the app's SECRET_KEY (a different salt per
kind, so a beacon token is no click token) and expire. They are packed (recommender.metrics.compact):
a panel carries one click token per card, so their length is what tracking adds to its HTML.

A token names its panel (which list: similar, for-you, trending, ...). Tokens signed before panels existed
(the "packed-1" salts, no panel field) are still read, as `similar` panels, until they expire.
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
BEACON_SALT = "likewise.impression-beacon.packed-2"
CLICK_SALT = "likewise.click-redirect.packed-2"
LEGACY_BEACON_SALT = "likewise.impression-beacon.packed-1"  # no panel field: read as a similar panel
LEGACY_CLICK_SALT = "likewise.click-redirect.packed-1"
SURFACES = ("page", "embed", "api")
# Which list a panel is. The first is what every impression was before lists had names.
PANELS = ("similar", "search", "for-you", "because-you-viewed", "trending", "bought-together")
DEFAULT_PANEL = PANELS[0]
IMPRESSION_ID_BYTES = 12


@dataclass(frozen=True)
class Impression:
    """One panel as rendered: which list, which version and arm answered, for what, with what.

    `source` is the item a similar panel is about; lists that are about no item (for-you, trending) give "".
    """

    impression_id: str
    version: str
    source: str
    k: int
    shown: tuple[str, ...]
    surface: str
    arm: str | None = None
    experiment_id: str | None = None
    panel: str = DEFAULT_PANEL

    @classmethod
    def new(cls, version: str, source: str, k: int, shown, surface: str, arm: str | None = None,
            experiment_id: str | None = None, panel: str = DEFAULT_PANEL) -> "Impression":
        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {', '.join(SURFACES)}, got {surface!r}")
        if panel not in PANELS:
            raise ValueError(f"panel must be one of {', '.join(PANELS)}, got {panel!r}")
        return cls(secrets.token_urlsafe(IMPRESSION_ID_BYTES), version, source, int(k), tuple(shown), surface,
                   arm, experiment_id, panel)

    def pack(self) -> Packer:
        """Everything but the shown list, in the order `unpack` reads it."""
        return (Packer().text(self.impression_id).text(self.version).text(self.source).uint(self.k)
                .uint(SURFACES.index(self.surface)).uint(PANELS.index(self.panel)).maybe_text(self.arm)
                .maybe_text(self.experiment_id))

    @classmethod
    def unpack(cls, reader: Unpacker, legacy: bool = False) -> "Impression":
        """`legacy`: the layout before panels (no panel field), read as a similar panel."""
        impression_id, version, source, k, surface = (reader.text(), reader.text(), reader.text(), reader.uint(),
                                                      reader.uint())
        if surface >= len(SURFACES):
            raise TokenRefused("the token names an unknown surface")
        panel = 0 if legacy else reader.uint()
        if panel >= len(PANELS):
            raise TokenRefused("the token names an unknown panel")
        return cls(impression_id, version, source, k, (), SURFACES[surface], reader.maybe_text(),
                   reader.maybe_text(), PANELS[panel])


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
        def signer(salt: str) -> CompactSigner:
            return CompactSigner(secret_key, salt, max_age, TOKEN_FUTURE_LEEWAY_SECONDS, clock)

        self._beacon, self._legacy_beacon = signer(BEACON_SALT), signer(LEGACY_BEACON_SALT)
        self._click, self._legacy_click = signer(CLICK_SALT), signer(LEGACY_CLICK_SALT)

    def beacon_token(self, impression: Impression) -> str:
        fields = impression.pack().uint(len(impression.shown))
        for item_id in impression.shown:
            fields.text(item_id)
        return self._beacon.sign(fields)

    def click_token(self, impression: Impression, position: int, item_id: str) -> str:
        """Only what the redirect needs to record the click; the shown list stays in the impression."""
        return self._click.sign(impression.pack().uint(position).text(item_id))

    @staticmethod
    def _unsign(current: CompactSigner, legacy: CompactSigner, token: str) -> tuple[Unpacker, bool]:
        """The token's fields and whether it has the layout before panels; the current layout's refusal
        (expired, altered, ...) when neither signature holds."""
        try:
            return current.unsign(token), False
        except TokenRefused as refused:
            try:
                return legacy.unsign(token), True
            except TokenRefused:
                raise refused from None

    def read_beacon(self, token: str) -> Impression:
        reader, legacy = self._unsign(self._beacon, self._legacy_beacon, token)
        impression = Impression.unpack(reader, legacy)
        shown = tuple(reader.text() for _ in range(reader.uint()))
        reader.end()
        return replace(impression, shown=shown)

    def read_click(self, token: str) -> Click:
        reader, legacy = self._unsign(self._click, self._legacy_click, token)
        impression = Impression.unpack(reader, legacy)
        position, item_id = reader.uint(), reader.text()
        reader.end()
        if not 1 <= position <= max(impression.k, 1):
            raise TokenRefused("the token's position is outside the panel")
        return Click(impression, position, item_id)
