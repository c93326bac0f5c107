"""Signed tokens for the impression beacon (/i/<token>.gif) and the click redirect (/r/<token>).

A token carries what was shown, never a URL: the redirect looks its target up from the item id, so a
token cannot send anyone off-site. Tokens are signed with the app's SECRET_KEY (a different salt per
kind, so a beacon token is no click token) and expire.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

TOKEN_MAX_AGE_SECONDS = 30 * 86_400
BEACON_SALT = "likewise.impression-beacon"
CLICK_SALT = "likewise.click-redirect"
SURFACES = ("page", "embed", "api")
IMPRESSION_ID_BYTES = 12


class TokenRefused(ValueError):
    """A token that was forged, altered, signed with another key, expired or malformed."""


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

    def payload(self) -> dict:
        return {"i": self.impression_id, "v": self.version, "s": self.source, "k": self.k, "n": list(self.shown),
                "f": self.surface, "a": self.arm, "e": self.experiment_id}

    @classmethod
    def from_payload(cls, data: dict) -> "Impression":
        try:
            shown = tuple(str(x) for x in data["n"])
            impression = cls(str(data["i"]), str(data["v"]), str(data["s"]), int(data["k"]), shown, str(data["f"]),
                             data.get("a"), data.get("e"))
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenRefused(f"the token's content is malformed ({exc})") from None
        if impression.surface not in SURFACES:
            raise TokenRefused("the token names an unknown surface")
        return impression


@dataclass(frozen=True)
class Click:
    """A click on the card at `position` (1-based) of an impression, naming the item clicked."""

    impression: Impression
    position: int
    item_id: str


class TokenSigner:
    """Signs and checks beacon and click tokens with one secret key."""

    def __init__(self, secret_key: str, max_age: int = TOKEN_MAX_AGE_SECONDS):
        if not secret_key:
            raise ValueError("a secret key is needed to sign tracking tokens")
        self.max_age = max_age
        self._beacon = URLSafeTimedSerializer(secret_key, salt=BEACON_SALT)
        self._click = URLSafeTimedSerializer(secret_key, salt=CLICK_SALT)

    def beacon_token(self, impression: Impression) -> str:
        return self._beacon.dumps(impression.payload())

    def click_token(self, impression: Impression, position: int, item_id: str) -> str:
        """Only what the redirect needs to record the click; the shown list stays in the impression."""
        data = {key: value for key, value in impression.payload().items() if key != "n"}
        return self._click.dumps(data | {"p": int(position), "t": item_id})

    def read_beacon(self, token: str) -> Impression:
        return Impression.from_payload(self._loads(self._beacon, token))

    def read_click(self, token: str) -> Click:
        data = self._loads(self._click, token)
        try:
            impression = Impression.from_payload(data | {"n": []})
            position, item_id = int(data["p"]), str(data["t"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenRefused(f"the token's content is malformed ({exc})") from None
        if not 1 <= position <= max(impression.k, 1):
            raise TokenRefused("the token's position is outside the panel")
        return Click(impression, position, item_id)

    def _loads(self, serializer: URLSafeTimedSerializer, token: str) -> dict:
        try:
            data = serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise TokenRefused("the token has expired") from None
        except BadSignature:
            raise TokenRefused("the token is not valid (altered, or signed with another key)") from None
        if not isinstance(data, dict):
            raise TokenRefused("the token's content is malformed")
        return data
