"""The packed click and beacon tokens on their own: exact round trips of awkward ids, and every kind of bad token
refused with TokenRefused and a message saying why."""

from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from recommender.metrics.compact import CompactSigner, Packer, decode, encode
from recommender.metrics.tokens import (
    BEACON_SALT,
    CLICK_SALT,
    TOKEN_FUTURE_LEEWAY_SECONDS,
    TOKEN_MAX_AGE_SECONDS,
    Impression,
    TokenRefused,
    TokenSigner,
)

SECRET = "test-secret"
AWKWARD_IDS = ["", "1001", "a|b", "a\x1fb", "a\x00b", "..", "a.b.c", "=", "a/b?c#d", "%2F", " spaced ", "é", "ü" * 3,
               "日本語のタイトル", "🎬🍿", "\ud800", "x" * 300, "\n\t", '"{}"', "null", "-_-"]


def impression(**changes) -> Impression:
    fields = {"version": "20261130T145003421Z-47d1f9", "source": "4990", "k": 10, "shown": [str(i) for i in range(10)],
              "surface": "page", "arm": None, "experiment_id": None} | changes
    return Impression.new(**fields)


@pytest.mark.parametrize("awkward", AWKWARD_IDS)
def test_click_tokens_round_trip_any_string_exactly(awkward):
    signer = TokenSigner(SECRET)
    shown = impression(version=awkward, source=awkward, surface="embed", arm=awkward, experiment_id=awkward)
    click = signer.read_click(signer.click_token(shown, 7, awkward))
    assert (click.position, click.item_id) == (7, awkward)
    assert click.impression == Impression(shown.impression_id, awkward, awkward, 10, (), "embed", awkward, awkward)


def test_absent_and_empty_optional_fields_stay_apart():
    signer = TokenSigner(SECRET)
    for arm, experiment_id in ((None, None), ("", ""), ("control", None), (None, "exp-1"), ("challenger", "exp-1")):
        read = signer.read_click(signer.click_token(impression(arm=arm, experiment_id=experiment_id), 1, "1"))
        assert (read.impression.arm, read.impression.experiment_id) == (arm, experiment_id)


def test_beacon_tokens_round_trip_the_shown_list():
    signer = TokenSigner(SECRET)
    for shown in ([], AWKWARD_IDS, [str(i) for i in range(100)]):
        panel = impression(shown=shown, surface="api", arm="control", experiment_id="e1")
        assert signer.read_beacon(signer.beacon_token(panel)) == panel


def test_click_tokens_are_short_and_url_safe():
    token = TokenSigner(SECRET).click_token(impression(), 10, "4802")
    assert len(token) <= 110, "one per card: their length is what tracking adds to a panel"
    assert all(c.isalnum() or c in "-_" for c in token) and "=" not in token


def refused(signer_read, token: str, why: str) -> None:
    with pytest.raises(TokenRefused, match=why):
        signer_read(token)


def test_forged_foreign_and_swapped_tokens_are_refused():
    signer, shown = TokenSigner(SECRET), impression()
    invalid = "not valid"
    refused(signer.read_click, TokenSigner("someone-elses-secret").click_token(shown, 1, "1"), invalid)
    refused(signer.read_click, CompactSigner(SECRET, "another-salt", 60, 60).sign(Packer().text("1")), invalid)
    refused(signer.read_click, signer.beacon_token(shown), invalid)
    refused(signer.read_beacon, signer.click_token(shown, 1, "1"), invalid)
    refused(signer.read_click, URLSafeTimedSerializer(SECRET, salt=CLICK_SALT).dumps({"t": "1"}), invalid)
    refused(signer.read_beacon, URLSafeTimedSerializer(SECRET, salt=BEACON_SALT).dumps({"t": "1"}), invalid)


def test_every_altered_character_and_every_cut_is_refused():
    signer = TokenSigner(SECRET)
    token = signer.click_token(impression(), 3, "4802")
    alphabet = "AQgw_-"
    for at in range(len(token)):
        for replacement in alphabet:
            if replacement != token[at]:
                with pytest.raises(TokenRefused):
                    signer.read_click(token[:at] + replacement + token[at + 1:])
    for length in range(len(token)):
        with pytest.raises(TokenRefused):
            signer.read_click(token[:length])
    for extra in ("A", "AA", "AAAA", "=", "==", ".", "+"):
        with pytest.raises(TokenRefused):
            signer.read_click(token + extra)


@pytest.mark.parametrize("garbage", ["", "!", "https:%2F%2Fevil.example", "a" * 5, "a+b/c", "日本"])
def test_malformed_strings_are_refused(garbage):
    refused(TokenSigner(SECRET).read_click, garbage, "not valid")


def test_expired_and_future_tokens_are_refused_and_fresh_ones_pass():
    now = time.time()
    signer = TokenSigner(SECRET, clock=lambda: now)
    old = TokenSigner(SECRET, clock=lambda: now - TOKEN_MAX_AGE_SECONDS - 1).click_token(impression(), 1, "1")
    refused(signer.read_click, old, "expired")
    refused(signer.read_beacon, TokenSigner(SECRET, clock=lambda: now - 31 * 86_400).beacon_token(impression()),
            "expired")
    ahead = TokenSigner(SECRET, clock=lambda: now + TOKEN_FUTURE_LEEWAY_SECONDS + 60).click_token(impression(), 1, "1")
    refused(signer.read_click, ahead, "future")
    almost = TokenSigner(SECRET, clock=lambda: now - TOKEN_MAX_AGE_SECONDS + 60).click_token(impression(), 1, "1")
    assert signer.read_click(almost).item_id == "1"
    skewed = TokenSigner(SECRET, clock=lambda: now + 10).click_token(impression(), 1, "1")
    assert signer.read_click(skewed).item_id == "1", "a little clock skew between hosts is tolerated"


def test_out_of_range_positions_are_refused():
    signer = TokenSigner(SECRET)
    for position in (0, 11, 1000):
        refused(signer.read_click, signer.click_token(impression(k=10), position, "1"), "outside the panel")
    assert signer.read_click(signer.click_token(impression(k=10), 10, "1")).position == 10


def test_genuine_but_malformed_content_is_refused():
    """Signed with the right key and salt but not in the click layout: cut short, left over, bad surface or UTF-8."""
    now = time.time()
    signer = TokenSigner(SECRET, clock=lambda: now)
    raw = CompactSigner(SECRET, CLICK_SALT, TOKEN_MAX_AGE_SECONDS, TOKEN_FUTURE_LEEWAY_SECONDS, lambda: now)
    whole = impression().pack().uint(1).text("1")
    refused(signer.read_click, raw.sign(whole.uint(0)), "left over")
    refused(signer.read_click, raw.sign(Packer().text("i").text("v")), "cut short")
    refused(signer.read_click, raw.sign(Packer().text("i").text("v").text("s").uint(3).uint(7)), "unknown surface")
    bad_utf8 = Packer().uint(2)
    bad_utf8._out += b"\xff\xfe"
    refused(signer.read_click, raw.sign(bad_utf8), "not UTF-8")
    overlong = Packer()
    overlong._out += b"\xff" * 6
    refused(signer.read_click, raw.sign(overlong), "too long")


def test_only_the_canonical_spelling_decodes():
    raw = bytes(range(7))
    token = encode(raw)
    assert decode(token) == raw and "=" not in token
    with pytest.raises(TokenRefused):
        decode(token[:-1] + chr(ord(token[-1]) + 1))  # same bytes, stray low bits
