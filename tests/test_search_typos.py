"""Search that survives typos (issue 26): two edits in words of four letters or more, one in three-letter
words, a swap of neighbouring letters counting as one; a word that matches nothing lowers a title's rank
instead of emptying the answer; and the answer says what the query was read as ("Showing results for").

Checked on the demo catalog (9,061 MovieLens titles, ranked by their real interaction counts) through
TitleSearch, and through the page, the htmx fragment, the embed's search and the JSON API on the small
test catalog ("The River Night 3" and the like)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from recommender.catalog.demo import movielens_frames
from recommender.search import TitleSearch
from recommender.typos import deletion_index
from recommender.typos.correction import corrected_query
from recommender.typos.edits import allowed_edits, close_words

HX = {"HX-Request": "true"}
TOP = 5

# query -> (a title in its top 5 must start with this, what the query is read as)
DEMO_TYPOS = {
    "star wras": ("Star Wars", "star wars"),
    "star wats": ("Star Wars", "star wars"),
    "back to teh future": ("Back to the Future", "back to the future"),
    "termintor": ("Terminator", "terminator"),
    "matirx": ("Matrix, The", "matrix"),
    "godfater": ("Godfather", "godfather"),
    "toy stroy": ("Toy Story", "toy story"),
}


@pytest.fixture(scope="module")
def demo() -> tuple[list[str], TitleSearch]:
    items, interactions, _ = movielens_frames()
    counts = items["item_id"].map(interactions.groupby("item_id").size()).fillna(0).to_numpy()
    titles = items["title"].astype(str).tolist()
    return titles, TitleSearch(titles, counts)


def top_titles(demo, query: str, limit: int = TOP) -> list[str]:
    titles, search = demo
    return [titles[hit.row] for hit in search.search(query, limit)]


# -- the demo catalog ---------------------------------------------------------------------------------

@pytest.mark.parametrize("query", list(DEMO_TYPOS))
def test_typo_queries_find_their_film_in_the_top_five(demo, query):
    expected, _ = DEMO_TYPOS[query]
    found = top_titles(demo, query)
    assert any(title.startswith(expected) for title in found), (query, found)


@pytest.mark.parametrize("query", list(DEMO_TYPOS))
def test_typo_queries_say_what_they_were_read_as(demo, query):
    _, read_as = DEMO_TYPOS[query]
    assert demo[1].answer(query, TOP).corrected == read_as


def test_without_typos_there_is_no_correction_and_the_same_film_comes_first(demo):
    """The corrected query finds what the typo found, and says nothing about corrections itself."""
    for query, (_, read_as) in DEMO_TYPOS.items():
        answer = demo[1].answer(read_as, TOP)
        assert answer.corrected is None, read_as
        assert top_titles(demo, read_as)[0] == top_titles(demo, query)[0], query


@pytest.mark.parametrize("query", ["matrix qwzx", "qwzx matrix", "the matrix zzxqvj"])
def test_a_word_that_matches_nothing_lowers_the_rank_instead_of_emptying_the_answer(demo, query):
    found = top_titles(demo, query)
    assert "Matrix, The" in found, found
    assert demo[1].answer(query, TOP).corrected == query.replace("qwzx", "").replace("zzxqvj", "").strip() \
        .replace("  ", " ")


def test_a_title_missing_a_word_ranks_below_the_titles_that_have_it(demo):
    """'matrix reloaded': The Matrix Reloaded first, then the other Matrix films lacking 'reloaded'."""
    found = top_titles(demo, "matrix reloaded", 3)
    assert found[0] == "Matrix Reloaded, The"
    assert set(found[1:]) == {"Matrix, The", "Matrix Revolutions, The"}


@pytest.mark.parametrize("query, expected", [("star wa", "Star Wars"), ("toy sto", "Toy Story"),
                                             ("back to the fu", "Back to the Future"), ("godf", "Godfather")])
def test_typing_prefixes_still_finds_titles_with_no_correction(demo, query, expected):
    """As-you-type matching is unchanged: a prefix is not a typo, and nothing is 'corrected'."""
    answer = demo[1].answer(query, TOP)
    assert demo[0][answer.hits[0].row].startswith(expected)
    assert answer.corrected is None


def test_one_letter_words_are_never_corrected(demo):
    """'x' and 'a' get no typo search: a title that has them matches, no other word stands in for them."""
    titles, search = demo
    for hit in search.search("a", 20):
        assert any(word.startswith("a") for word in re.findall(r"\w+", titles[hit.row].lower()))


# -- other scripts ---------------------------------------------------------------------------------

def test_non_latin_titles_match_exactly_by_prefix_and_by_typo():
    titles = ["東京物語", "Тихий Дон", "Война и мир", "Tokyo Story"]
    search = TitleSearch(titles)
    assert [titles[h.row] for h in search.search("東京物語")] == ["東京物語"]
    assert [titles[h.row] for h in search.search("東京")] == ["東京物語"]
    assert [titles[h.row] for h in search.search("тихий")] == ["Тихий Дон"]
    answer = search.answer("вйона")  # a swap in Cyrillic is one edit too
    assert [titles[h.row] for h in answer.hits] == ["Война и мир"]
    assert answer.corrected == "война"


# -- the rules, unit by unit ---------------------------------------------------------------------------

def test_allowed_edits_by_length():
    assert [allowed_edits(n) for n in range(1, 7)] == [0, 0, 1, 2, 2, 2]


def test_close_words_counts_a_swap_as_one_edit_and_lets_the_shorter_word_decide():
    words = ["wars", "wax", "the", "warsaw", "cars", "weirds"]
    assert close_words("wras", words) == {0: 1, 4: 2}  # "warsaw" is three edits away
    assert close_words("teh", words) == {2: 1}
    assert close_words("qwzx", words) == {}


def test_corrected_query_keeps_prefixes_replaces_typos_and_drops_unmatched_words():
    words = {"star": "star", "wars": "wars", "episode": "episode"}
    typos = {"wras": {"wars": 1, "ways": 2}, "qq": {}}
    assert corrected_query(words, ["star", "wras"], typos) == "star wars"
    assert corrected_query(words, ["sta", "ep"], typos) is None
    assert corrected_query(words, ["star", "qq"], typos) == "star"
    assert corrected_query(words, ["qq"], typos) is None
    assert corrected_query({"amelie": "amélie"}, ["amelei"], {"amelei": {"amelie": 1}}) == "amélie"


def test_a_version_saved_without_typo_tables_builds_them_when_loaded(tmp_path):
    """Versions built before the typo tables existed still load (and roll back) and find typos."""
    titles = ["Star Wars", "The Matrix", "Toy Story"]
    TitleSearch(titles).save(tmp_path / "search")
    for name in deletion_index.ARRAYS:
        (tmp_path / "search" / f"{name}.npy").unlink()
    loaded = TitleSearch.load(tmp_path / "search", titles)
    assert titles[loaded.search("star wras")[0].row] == "Star Wars"
    fresh = TitleSearch(titles)
    for name in deletion_index.ARRAYS:
        assert np.array_equal(getattr(loaded, name), getattr(fresh, name)), name


# -- the pages, the fragment, the embed and the JSON ---------------------------------------------------------

def typo_of(model) -> tuple[str, str]:
    """A query with one swap in a word of the catalog's most common title, and what it should read as."""
    title = model.search("river", 1)[0].item.title
    words = re.findall(r"[a-z]+", title.lower())
    word = max(words, key=len)
    typo = word[0] + word[2] + word[1] + word[3:]
    return " ".join(typo if w == word else w for w in words), " ".join(words)


def showing_link(body: str) -> tuple[str, str] | None:
    found = re.search(r'Showing results for <a (?:class="[^"]+" )?href="([^"]+)"><em>([^<]+)</em></a>', body)
    return (html.unescape(found.group(1)), found.group(2)) if found else None


def test_page_and_fragment_show_a_plain_link_to_the_corrected_query(client, model):
    typo, read_as = typo_of(model)
    for headers in ({}, HX):
        body = client.get("/search", query_string={"q": typo}, headers=headers).get_data(as_text=True)
        link = showing_link(body)
        assert link is not None, body
        href, text = link
        assert text == read_as
        assert re.fullmatch(r"/search\?q=[^&]+", href) and href.endswith("q=" + read_as.replace(" ", "+"))
        followed = client.get(href).get_data(as_text=True)
        assert showing_link(followed) is None and "matches for" in followed


def test_no_link_when_nothing_was_corrected(client, model):
    _, read_as = typo_of(model)
    for headers in ({}, HX):
        body = client.get("/search", query_string={"q": read_as}, headers=headers).get_data(as_text=True)
        assert "Showing results for" not in body


def test_embed_search_links_to_the_corrected_query_on_likewise(client, model):
    typo, read_as = typo_of(model)
    for frame in ("", "1"):
        body = client.get("/embed/search", query_string={"q": typo, "frame": frame} if frame else {"q": typo},
                          headers=HX).get_data(as_text=True)
        link = showing_link(body)
        assert link is not None, body
        assert link[1] == read_as and link[0].startswith("http")
        if frame:  # the frame's link keeps to the frame, which may be framed; the page may not
            assert "/embed/search?" in link[0] and "frame=1" in link[0]
        else:
            assert "/embed/" not in link[0] and "/search?q=" in link[0]


def test_json_says_what_it_corrected_to(client, model):
    typo, read_as = typo_of(model)
    corrected = client.get("/api/search", query_string={"q": typo}).get_json()
    assert corrected["corrected"] == read_as and corrected["results"]
    assert corrected["results"][0]["item_id"] == model.search(read_as, 1)[0].item.item_id
    assert client.get("/api/search", query_string={"q": read_as}).get_json()["corrected"] is None
    assert client.get("/api/search", query_string={"q": ""}).get_json()["corrected"] is None


def test_a_nonsense_word_still_answers_through_the_api(client, model):
    _, read_as = typo_of(model)
    answer = client.get("/api/search", query_string={"q": read_as + " qqxzv"}).get_json()
    assert answer["results"] and answer["corrected"] == read_as


def test_few_and_many_variants_hash_alike():
    """Queries hash a few variants in Python and many with numpy, the build always many: the same numbers."""
    words = [w for title in ["Star Wars", "Amélie", "東京物語", "Тихий Дон", "x" * 32] for w in title.lower().split()]
    many = words * (deletion_index.FEW_VARIANTS // len(words) + 1)
    assert len(many) > deletion_index.FEW_VARIANTS
    assert deletion_index.variant_hashes(many)[:len(words)].tolist() == deletion_index.variant_hashes(words).tolist()
