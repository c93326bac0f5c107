"""Short signed tokens: fields packed in a fixed order, an issue time and a truncated HMAC, in URL-safe base64.

Every card of a tracked panel carries a click token in its link, so their length is most of what tracking adds
to a panel's HTML. A packed token has no key names, no JSON and no padding: strings are length-prefixed (any
characters round-trip, separators included), numbers are varints, the issue time is four bytes.

Layout: issued-at (uint32, big-endian seconds) · fields · HMAC-SHA256 of the two, truncated to MAC_BYTES. The
HMAC key is derived from the secret and a salt per kind of token, so one kind never passes for another. A change
of layout takes a new salt: tokens of the old layout then fail their check instead of being misread.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import struct
import time
from typing import Callable

MAC_BYTES = 16
DIGEST = "sha256"
ISSUED_AT = struct.Struct(">I")
VARINT_MAX_BYTES = 5  # 35 bits: more than any length or count a token may hold
TEXT_ENCODING = "utf-8"
TEXT_ERRORS = "surrogatepass"  # every Python str round-trips, even one holding a lone surrogate
TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


class TokenRefused(ValueError):
    """A token that was forged, altered, signed with another key, expired or malformed."""


class Packer:
    """Writes fields in the order the reader will ask for them."""

    def __init__(self) -> None:
        self._out = bytearray()

    def uint(self, value: int) -> Packer:
        value = int(value)
        if value < 0:
            raise ValueError(f"a packed number cannot be negative, got {value}")
        while value >= 0x80:
            self._out.append(value & 0x7F | 0x80)
            value >>= 7
        self._out.append(value)
        return self

    def text(self, value: str) -> Packer:
        data = str(value).encode(TEXT_ENCODING, TEXT_ERRORS)
        self.uint(len(data))
        self._out += data
        return self

    def maybe_text(self, value: str | None) -> Packer:
        """None and "" stay apart: a present string is written after a 1, an absent one is a single 0."""
        return self.uint(0) if value is None else self.uint(1).text(value)

    def packed(self) -> bytes:
        return bytes(self._out)


class Unpacker:
    """Reads fields back; anything short, overlong or left over is a malformed token."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def uint(self) -> int:
        value = 0
        for shift in range(0, 7 * VARINT_MAX_BYTES, 7):
            byte = self._take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
        raise _malformed("a number is too long")

    def text(self) -> str:
        try:
            return self._take(self.uint()).decode(TEXT_ENCODING, TEXT_ERRORS)
        except UnicodeDecodeError:
            raise _malformed("a string is not UTF-8") from None

    def maybe_text(self) -> str | None:
        present = self.uint()
        if present > 1:
            raise _malformed("an optional string has a bad marker")
        return self.text() if present else None

    def end(self) -> None:
        if self._at != len(self._data):
            raise _malformed("it has bytes left over")

    def _take(self, count: int) -> bytes:
        if self._at + count > len(self._data):
            raise _malformed("it is cut short")
        chunk = self._data[self._at:self._at + count]
        self._at += count
        return chunk


def _malformed(why: str) -> TokenRefused:
    return TokenRefused(f"the token's content is malformed ({why})")


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(token: str) -> bytes:
    """Only the one spelling `encode` gives: no padding, no other alphabet, no stray bits."""
    if not TOKEN_ALPHABET.fullmatch(token):
        raise TokenRefused("the token is not valid (it has characters no token has)")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenRefused("the token is not valid (its length is impossible)") from None
    if encode(raw) != token:
        raise TokenRefused("the token is not valid (altered)")
    return raw


class CompactSigner:
    """Signs packed fields with a key of their own kind, and gives them back only while genuine and fresh."""

    def __init__(self, secret_key: str | bytes, salt: str, max_age: int, future_leeway: int,
                 clock: Callable[[], float] = time.time):
        secret = secret_key if isinstance(secret_key, bytes) else secret_key.encode(TEXT_ENCODING)
        self._key = hmac.digest(secret, salt.encode(TEXT_ENCODING), DIGEST)
        self.max_age = max_age
        self.future_leeway = future_leeway
        self._clock = clock

    def sign(self, fields: Packer) -> str:
        payload = ISSUED_AT.pack(int(self._clock())) + fields.packed()
        return encode(payload + self._mac(payload))

    def unsign(self, token: str) -> Unpacker:
        raw = decode(token)
        if len(raw) < ISSUED_AT.size + MAC_BYTES:
            raise TokenRefused("the token is not valid (it is too short)")
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenRefused("the token is not valid (altered, or signed with another key)")
        age = self._clock() - ISSUED_AT.unpack_from(payload)[0]
        if age > self.max_age:
            raise TokenRefused("the token has expired")
        if age < -self.future_leeway:
            raise TokenRefused("the token was issued in the future")
        return Unpacker(payload[ISSUED_AT.size:])

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, payload, DIGEST)[:MAC_BYTES]
