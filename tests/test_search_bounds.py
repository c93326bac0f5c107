"""Search work is bounded for any query a browser can send: Unicode expansion, many or long or repeated
terms, digits, one-letter words, any script. Checked on the demo catalog (9,061 MovieLens titles) with
deterministic counters, and with generous wall-clock bounds that the unbounded search missed by minutes."""

from __future__ import annotations

import random
import re
import string
import time
import unicodedata

import numpy as np
import pytest

from recommender.catalog.demo import movielens_frames
from recommender.search import MAX_FOLDED_CHARS, MAX_QUERY_CHARS, MAX_TERMS, TitleSearch, terms_of
from recommender.typos.deletion_index import FUZZY_MAX_LENGTH, MAX_FUZZY_CANDIDATES, MAX_KEY_LOOKUPS, QueryWork

SECONDS_PER_QUERY = 0.5  # the old search took 2.7 s for '㌖' * 67 and minutes for '㌖' * 200
# Binary searches per term: its prefix range (twice, two each), its own id, and one vectorised search of
# the typo tables per round and table (three); then the first term's prefix range again for ranking.
SEARCHES_PER_TERM = 8
EXPANDING = ["㌖", "ﷺ", "ﷻ", "ﬃ", "ǆ", "Ⅻ", "ß", "ΐ"]  # NFKD or case folding makes each 2 to 18 characters


@pytest.fixture(scope="module")
def demo_titles() -> list[str]:
    items, _, _ = movielens_frames()
    return items["title"].tolist()


@pytest.fixture(scope="module")
def demo_search(demo_titles) -> TitleSearch:
    return TitleSearch(demo_titles)


def words_of(title: str) -> list[str]:
    return re.findall(r"\w+", title.lower())


def adversarial_queries(titles: list[str]) -> dict[str, str]:
    """The route's longest queries (MAX_QUERY_CHARS) built to cost the most, some from the catalog's own words
    so that every term matches and the search cannot stop early."""
    rich = max(titles, key=lambda t: sum(len(w) for w in words_of(t)[:MAX_TERMS] if len(w) >= 5))
    busy = max(titles, key=lambda t: len(set(words_of(t))))
    queries = {f"{c}*200": c * MAX_QUERY_CHARS for c in EXPANDING}
    queries.update({
        "a*10000": "a" * 10_000,
        "200 distinct tokens": " ".join(f"w{i}" for i in range(200)),
        "mixed scripts": "東京Ωж㌖ﷺ🙂ǆßКино" * 20,
        "one-letter tokens": " ".join(string.ascii_lowercase * 8),
        "initials of a title": " ".join(w[0] for w in words_of(busy)),
        "repeated common word": "the " * 50,
        "digits": "7" * MAX_QUERY_CHARS,
        "years": " ".join(str(y) for y in range(1990, 2030)),
        "a title's words with a typo each": " ".join(w[:2] + w[3:] if len(w) > 4 else w for w in words_of(rich)),
        "8 terms of 24 letters": " ".join(c + "bcdefghijklmnopqrstuvwx" for c in "abcdefgh"),
        "combining marks": "a" + "\u0301" * (MAX_QUERY_CHARS - 1),
    })
    return queries


class KeyWidthGuard:
    """Counts binary searches and refuses a key longer than the sorted strings it is looked up in: numpy
    would copy the whole array at the key's width first, which is what made long terms cost seconds.
    (The typo tables hold integers, so any number of keys may be looked up there at once.)"""

    def __init__(self, searchsorted):
        self.searchsorted = searchsorted
        self.calls = 0

    def __call__(self, keys, key, *args, **kwargs):
        self.calls += 1
        if keys.dtype.kind == "U":
            width = keys.dtype.itemsize // 4
            assert len(key) <= width, f"searched {len(key)}-character key in strings of at most {width}"
        return self.searchsorted(keys, key, *args, **kwargs)


# -- what a query can turn into -----------------------------------------------------------------------

@pytest.mark.parametrize("char", EXPANDING)
def test_folded_query_is_cut_after_expanding(char):
    """200 characters that each fold into several still give at most MAX_FOLDED_CHARS letters in terms."""
    assert len(unicodedata.normalize("NFKD", char).casefold()) > 1
    terms = terms_of(char * MAX_QUERY_CHARS)
    assert terms, char
    assert len(terms) <= MAX_TERMS
    assert sum(len(t) for t in terms) <= MAX_FOLDED_CHARS


def test_terms_are_few_whatever_the_query():
    assert len(terms_of(" ".join(f"w{i}" for i in range(200)))) == MAX_TERMS
    assert terms_of("a" * 10_000) == ["a" * MAX_QUERY_CHARS]


# -- work and time per query on the demo catalog ---------------------------------------------------------

@pytest.mark.timeout(60)
def test_every_adversarial_query_does_bounded_work_quickly(demo_search, demo_titles, monkeypatch):
    """Counted work stays under the caps, no key is searched in an array narrower than it, and each
    query answers within SECONDS_PER_QUERY (a generous margin: the bounded search takes about 1 ms)."""
    guard = KeyWidthGuard(np.searchsorted)
    timings = {}
    for name, query in adversarial_queries(demo_titles).items():
        work = QueryWork()
        with monkeypatch.context() as patch:
            patch.setattr(np, "searchsorted", guard)
            guard.calls = 0
            demo_search.search(query, 20, work=work)
        assert work.lookups <= MAX_KEY_LOOKUPS and work.candidates <= MAX_FUZZY_CANDIDATES, name
        assert guard.calls <= SEARCHES_PER_TERM * MAX_TERMS + 2, name
        started = time.perf_counter()
        demo_search.search(query, 20)
        timings[name] = time.perf_counter() - started
    slow = {name: round(seconds, 3) for name, seconds in timings.items() if seconds >= SECONDS_PER_QUERY}
    assert not slow, slow


def test_the_adversarial_set_reaches_the_typo_search(demo_search, demo_titles):
    """The set is not all cheap early exits: some queries match titles and some spend typo lookups."""
    queries = adversarial_queries(demo_titles)
    found = {name for name, q in queries.items() if demo_search.search(q)}
    assert {"a title's words with a typo each", "repeated common word", "initials of a title"} <= found
    work = QueryWork()
    demo_search.search(queries["a title's words with a typo each"], work=work)
    assert work.lookups >= 10 and work.candidates > 0


# -- the caps themselves ------------------------------------------------------------------------------

def random_word(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def test_typo_lookups_stop_at_the_cap_and_every_term_keeps_its_one_edit_typos():
    """Six 24-letter words, each with a typo, would need over 3,000 lookups: the query stops at
    MAX_KEY_LOOKUPS, after every term's one-edit lookups, so the title with all six still comes first."""
    rng = random.Random(7)
    words = [random_word(rng, 24) for _ in range(6)]
    titles = [" ".join(words)] + [random_word(rng, 8) for _ in range(200)]
    search = TitleSearch(titles)
    typos = [w[:5] + w[6:] for w in words]
    assert sum(len(t) * len(t) for t in typos) > MAX_KEY_LOOKUPS
    work = QueryWork()
    hits = search.search(" ".join(typos), work=work)
    assert work.lookups == MAX_KEY_LOOKUPS
    assert hits[0].row == 0 and sum(h.matched for h in hits[0].highlights) == 6
    assert [h.row for h in search.search(typos[0])] == [0]


def test_typo_candidates_stop_at_the_cap():
    """5,000 title words share the deletion variant 'abcd': a query 'abcdz' compares at most
    MAX_FUZZY_CANDIDATES of them and still answers with one-typo matches."""
    titles = [f"abcd{chr(0x4E00 + i)}" for i in range(5000)]
    search = TitleSearch(titles)
    work = QueryWork()
    hits = search.search("abcdz", 20, work=work)
    assert work.candidates == MAX_FUZZY_CANDIDATES
    assert len(hits) == 20
    assert all(titles[h.row].startswith("abcd") for h in hits)


def test_a_term_longer_than_every_title_word_costs_no_lookup():
    """No title word is longer than the vocabulary's longest, so a longer term matches nothing at no cost,
    and the other terms still find their titles."""
    titles = ["Supercalifragilistic Night", "Night Train"]
    search = TitleSearch(titles)
    alone, beside, night = QueryWork(), QueryWork(), QueryWork()
    assert search.search("x" * 40, work=alone) == []
    assert alone.lookups == 0
    assert {h.row for h in search.search("night " + "x" * 40, work=beside)} == {0, 1}
    search.search("night", work=night)
    assert beside == night


def test_longest_words_still_match_by_prefix_exact_and_typo():
    """The length limits do not cut matches at the edge: the longest title word is found whole, by prefix,
    with a letter missing, and with one letter too many (a term one longer than any title word)."""
    word = "supercalifragilistic"
    titles = [f"{word.title()} Night", "Night Train"]
    search = TitleSearch(titles)
    for query in (word, word[:10], word[:7] + word[8:], word[:7] + "x" + word[7:]):
        assert [titles[h.row] for h in search.search(query)] == [titles[0]], query


def test_long_terms_get_no_typo_search():
    """A term longer than FUZZY_MAX_LENGTH is matched exactly or by prefix only, with no typo lookup."""
    word = random_word(random.Random(3), FUZZY_MAX_LENGTH + 1)
    search = TitleSearch([word, "Night"])
    work = QueryWork()
    assert [h.row for h in search.search(word, work=work)] == [0]
    assert [h.row for h in search.search(word[:-3])] == [0]
    assert search.search(word[:5] + "q" + word[5:], work=work) == []
    assert work.lookups == 0


def test_a_repeated_term_is_matched_once():
    """'garden garden ...' spends the typo lookups of one 'garden'."""
    titles = ["The Secret Garden", "Garden State", "Gardens of Stone"]
    search = TitleSearch(titles)
    once, repeated = QueryWork(), QueryWork()
    single = search.search("garden", work=once)
    many = search.search("garden " * 40, work=repeated)
    assert once.lookups > 0 and repeated.lookups == once.lookups
    assert {h.row for h in many} == {h.row for h in single}
