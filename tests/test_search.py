"""Title search: word prefixes first, typos tolerated (two in words of 4+ letters, one in 3), safe on any input."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.search import MAX_QUERY_CHARS, WORD, TitleSearch, fold
from recommender.typos.deletion_index import variant_hashes
from recommender.typos.edits import deletions


def titles_found(titles, query, popularity=None, limit=20) -> list[str]:
    return [titles[hit.row] for hit in TitleSearch(titles, popularity).search(query, limit)]


def marked(hit) -> list[str]:
    return [h.text for h in hit.highlights if h.matched]


# -- ranking --------------------------------------------------------------------------------

def test_word_prefix_finds_toy_story_first():
    """'toy sto' is someone typing 'Toy Story': those titles rank above others that also match."""
    titles = ["Stop Toys", "The Toy Stone", "Toy Story", "Story of a Toy", "Toy Story 2", "Toys in the Attic"]
    found = titles_found(titles, "toy sto")
    assert set(found[:2]) == {"Toy Story", "Toy Story 2"}
    # titles with a word starting with 'toy' and a word starting with 'sto' come before those with one of them
    both = [any(w.startswith("toy") for w in t.lower().split()) and any(w.startswith("sto") for w in t.lower().split())
            for t in found]
    assert both == sorted(both, reverse=True) and both.count(True) == 5
    assert found[-1] == "Toys in the Attic"


def test_titles_with_every_term_come_first():
    """A multi-word query narrows: titles missing one of the words rank below the one that has both."""
    titles = ["Night Garden", "River Garden", "Night River"]
    assert titles_found(titles, "night river")[0] == "Night River"
    assert set(titles_found(titles, "night river")[1:]) == {"Night Garden", "River Garden"}


def test_exact_word_before_prefix():
    """A title with the whole typed word beats one where it is only a prefix."""
    titles = ["Storming Heaven", "Storm Chasers"]
    found = titles_found(titles, "storm")
    assert found == ["Storm Chasers", "Storming Heaven"]


def test_prefix_before_fuzzy():
    """A prefix match ('rivers') beats a one-typo match ('rover')."""
    titles = ["Rover Tales", "Rivers Deep"]
    assert titles_found(titles, "river") == ["Rivers Deep", "Rover Tales"]


def test_exact_before_fuzzy_even_when_fuzzy_is_popular():
    """Popularity only breaks ties; it does not lift a typo match above an exact one."""
    titles = ["Gardens", "Garden"]
    search = TitleSearch(titles, np.array([1_000_000, 0]))
    hits = search.search("garden")
    assert [titles[h.row] for h in hits][0] == "Garden"


@pytest.mark.parametrize("query", ["gardan", "gardn", "gardeen", "gadren", "gxrdxn", "gadrne", "grdn"],
                         ids=["substitution", "deletion", "insertion", "transposition", "two substitutions",
                              "two transpositions", "two deletions"])
def test_typos_in_long_word(query):
    """One or two edits in a word of 4+ letters still find the title, and the whole word is highlighted."""
    titles = ["The Secret Garden", "Harbour Lights"]
    hits = TitleSearch(titles).search(query)
    assert [titles[h.row] for h in hits] == ["The Secret Garden"]
    assert marked(hits[0]) == ["Garden"]


@pytest.mark.parametrize("query", ["cty", "ctiy", "cita", "xity", "teh", "ctyy"])
def test_typos_in_short_words(query):
    """Three letters allow one edit ('cty', 'teh'), four allow two ('xity', 'ctyy'): each finds its title."""
    titles = ["City Lights", "The Harbour"]
    expected = "The Harbour" if query == "teh" else "City Lights"
    assert titles_found(titles, query) == [expected]


@pytest.mark.parametrize("query", ["cxy", "xyxy", "gxrxxn", "qwzx"])
def test_too_many_typos_do_not_match(query):
    """Two edits in a three-letter word, three in a longer one, are too far; and 'qwzx' is not two edits
    from the three-letter 'wax' (the shorter word sets the allowance)."""
    assert titles_found(["City Lights", "The Secret Garden", "House of Wax"], query) == []


def test_two_edits_match_and_three_do_not():
    """'garden' is two edits from 'ardent' (drop the g, add a t), 'gardenia' three."""
    assert titles_found(["Ardent Spirits"], "garden") == ["Ardent Spirits"]
    assert titles_found(["Ardent Spirits"], "gardenia") == []


def test_accents_are_folded():
    """'amelie' finds 'Amélie' and 'creme brulee' finds 'Crème Brûlée'."""
    titles = ["Amélie", "Crème Brûlée", "America"]
    assert titles_found(titles, "amelie") == ["Amélie"]
    assert titles_found(titles, "creme brulee") == ["Crème Brûlée"]
    assert titles_found(titles, "AMÉLIE") == ["Amélie"]


def test_popularity_breaks_ties_both_ways():
    """Equal matches of equal length are ordered by popularity, whichever comes first in the list."""
    titles = ["Storm Alpha", "Storm Bravo"]
    assert titles_found(titles, "storm", np.array([1, 100])) == ["Storm Bravo", "Storm Alpha"]
    assert titles_found(titles, "storm", np.array([100, 1])) == ["Storm Alpha", "Storm Bravo"]


def test_scores_are_non_increasing():
    """Hits come best first."""
    titles = [f"River {w}" for w in ("Deep", "Run", "Song")] + ["Rivers", "Rover Day", "The River"]
    hits = TitleSearch(titles, np.arange(len(titles))).search("river")
    scores = [h.score for h in hits]
    assert len(hits) == len(titles)
    assert scores == sorted(scores, reverse=True)


def test_limit_respected():
    """No more hits than asked for, and the best ones."""
    titles = [f"Night {i}" for i in range(50)]
    search = TitleSearch(titles)
    assert len(search.search("night", limit=7)) == 7
    assert len(search.search("night", limit=1)) == 1
    assert len(search.search("night", limit=100)) == 50


def test_no_titles():
    """An empty catalog answers with no hits."""
    assert TitleSearch([]).search("anything") == []


# -- highlights -----------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["toy sto", "story", "amel", "brul", "gardn", "TOY", "night riv"])
def test_highlights_rebuild_title(query):
    """Joining the highlight pieces gives back the title exactly, whatever matched."""
    titles = ["Toy Story", "Toy Story 2: The Return!", "Amélie", "Crème Brûlée", "The Secret Garden",
              "Night River (1999)", "  Spaced  Out  "]
    hits = TitleSearch(titles).search(query)
    assert hits, query
    for hit in hits:
        assert "".join(h.text for h in hit.highlights) == titles[hit.row]


def test_prefix_highlight_marks_only_typed_part():
    """Typing 'toy sto' marks 'Toy' and 'Sto', not the rest of 'Story'."""
    titles = ["Toy Story"]
    hit = TitleSearch(titles).search("toy sto")[0]
    assert marked(hit) == ["Toy", "Sto"]
    assert [h.text for h in hit.highlights if not h.matched] == [" ", "ry"]


def test_accented_prefix_highlight_uses_original_characters():
    """The marked piece is the title's own text ('Amél'), not the folded query ('amel')."""
    hit = TitleSearch(["Amélie"]).search("amel")[0]
    assert marked(hit) == ["Amél"]


def test_every_hit_shows_what_matched():
    """A hit found by a prefix must mark that prefix, even when folding changes the word's length
    ('Straße' folds to 'strasse')."""
    titles = ["Straße der Sehnsucht"]
    hits = TitleSearch(titles).search("stra")
    assert [titles[h.row] for h in hits] == titles
    assert marked(hits[0]), hits[0].highlights


def test_highlights_do_not_contain_markup():
    """Highlights are plain text pieces; HTML in a title stays text for the template to escape."""
    title = "<b>Bold</b> Move"
    hit = TitleSearch([title]).search("bold")[0]
    assert "".join(h.text for h in hit.highlights) == title
    assert marked(hit) == ["Bold"]


# -- hostile and odd input ------------------------------------------------------------------------

HOSTILE = ["", " ", "%", '"', "'", "<script>alert(1)</script>", "x" * 10_000, "\x00", "a\x00b", "東京物語",
           "🙂", "((((", "\\", "*?[]", "\u202e", "ـــ"]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_odd_queries_return_lists(query):
    """Any string a browser can send gives a list, never an exception."""
    search = TitleSearch(["Script Doctor", "Tokyo Story", "東京物語", "Alert Level", "X"])
    hits = search.search(query)
    assert isinstance(hits, list)
    for hit in hits:
        assert 0 <= hit.row < 5


def test_non_latin_query_finds_non_latin_title():
    """Japanese titles are searchable by their own script."""
    assert titles_found(["Tokyo Story", "東京物語"], "東京物語") == ["東京物語"]


def test_script_query_matches_words_only():
    """'<script>alert(1)</script>' is read as the words 'script', 'alert', '1', not as markup."""
    titles = ["Script Doctor", "Script Alert 1"]
    assert titles_found(titles, "<script>alert(1)</script>") == ["Script Alert 1", "Script Doctor"]


def test_long_query_is_cut():
    """Only the first MAX_QUERY_CHARS characters count, so a huge query is cheap and still matches."""
    query = "night " + "x" * 10_000
    assert len(query) > MAX_QUERY_CHARS
    assert titles_found(["Night Train"], query) == ["Night Train"]  # 'x...' matches nothing and costs nothing
    assert titles_found(["Night Train"], "night" + " " * 10_000 + "zzz") == ["Night Train"]


def test_control_characters_separate_words():
    """A NUL byte inside a query acts as a space rather than gluing or breaking words."""
    assert titles_found(["Night Train"], "night\x00train") == ["Night Train"]


# -- stored arrays --------------------------------------------------------------------------

POSTING_TITLES = ["Night Night River", "", "river café", "!!", "Amélie night", "zebra", "Cafe"]


def test_each_word_lists_the_rows_that_contain_it_once_in_row_order():
    """The postings the worker saves: sorted distinct words, each with the rows holding it, ascending."""
    search = TitleSearch(POSTING_TITLES)
    vocab = search.vocab.tolist()
    assert vocab == sorted(set(vocab)) == ["amelie", "cafe", "night", "river", "zebra"]
    for tid, word in enumerate(vocab):
        rows = search.rows[search.offsets[tid]:search.offsets[tid + 1]].tolist()
        expected = [row for row, title in enumerate(POSTING_TITLES) if word in search_words(title)]
        assert rows == expected, word
    assert search.offsets[-1] == len(search.rows)


def test_first_token_names_each_titles_first_word_or_minus_one():
    """The first word earns the prefix bonus; a title without words has none."""
    search = TitleSearch(POSTING_TITLES)
    firsts = [search.vocab[t] if t >= 0 else None for t in search.first_token.tolist()]
    assert firsts == ["night", None, "river", None, "amelie", "zebra", "cafe"]


def test_typo_tables_point_at_the_words_they_come_from():
    """Every key of the near table is the hash of a word or of it with one letter dropped, every key of
    the far table that of a word with two dropped; each key's words are in vocabulary order."""
    search = TitleSearch(POSTING_TITLES + ["Garden Gate"])
    vocab = search.vocab.tolist()
    for table, depths in (("near", (0, 1)), ("far", (2,))):
        keys, offsets = getattr(search, f"typo_{table}_keys"), getattr(search, f"typo_{table}_offsets")
        tokens = getattr(search, f"typo_{table}_tokens")
        assert len(keys) and list(keys) == sorted(set(keys.tolist()))
        for i, key in enumerate(keys.tolist()):
            words = [vocab[t] for t in tokens[offsets[i]:offsets[i + 1]]]
            assert words == sorted(words), table
            for word in words:
                levels = deletions(word, 2)
                variants = [v for depth in depths for v in levels[depth]]
                assert key in variant_hashes(variants).tolist(), (table, word)


def search_words(title: str) -> set[str]:
    return set(WORD.findall(fold(title)))
