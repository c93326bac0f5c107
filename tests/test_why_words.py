"""Why-words are picked by weight, not presence (issue 26, item 6): on MASS's Cars93, whose descriptions all
say "car", "airbags", "available" and "city", no reason names a word found in more than half the
descriptions; on the demo catalog the words still name what two films share ("toy", "story")."""

from __future__ import annotations

import pandas as pd
import pytest

from recommender.catalog.demo import movielens_frames
from recommender.index_store import IndexStore
from recommender.item_table import ItemTable, write_item_table
from recommender.model import SimilarItemsModel
from recommender.pipeline import build_and_publish
from recommender.similarity.explain import Explainer, content_words
from recommender.similarity.word_weights import WordWeights
from tests.helpers.cars93 import cars93_catalog

EVERY_CARD_SAID = {"airbags", "available", "car", "city"}


@pytest.fixture(scope="module")
def cars(tmp_path_factory) -> SimilarItemsModel:
    root = tmp_path_factory.mktemp("cars93")
    store = IndexStore(root / "indexes")
    build_and_publish(store, cars93_catalog(root / "catalog"))
    return SimilarItemsModel(store.current_path())


def description_share(items: pd.DataFrame) -> dict[str, float]:
    """For every word of the explanations' vocabulary: the share of descriptions holding it."""
    counts: dict[str, int] = {}
    for text in items["description"]:
        for word in content_words("", text):
            counts[word] = counts.get(word, 0) + 1
    return {word: count / len(items) for word, count in counts.items()}


def test_the_catalog_has_the_words_every_card_used_to_say(cars):
    share = description_share(cars.items)
    assert all(share[word] > 0.5 for word in EVERY_CARD_SAID), {w: share.get(w) for w in EVERY_CARD_SAID}


def test_no_why_word_is_in_more_than_half_the_descriptions(cars):
    share = description_share(cars.items)
    shown: set[str] = set()
    for item_id in cars.items["item_id"]:
        for result in cars.get_similar_items(item_id, 10):
            assert result.why is not None
            common = [w for w in result.why.words if share.get(w, 0) > 0.5]
            assert not common, (item_id, result.item_id, result.why.words)
            shown.update(result.why.words)
    assert shown, "the cars share words: some reasons must name them"


def test_the_saved_weights_count_documents_as_the_catalog_has_them(cars):
    weights = WordWeights.load(cars.path / "word_weights")
    assert weights is not None and weights.documents == len(cars.items)
    share = description_share(cars.items)
    for word in EVERY_CARD_SAID:
        assert weights.is_common(word)
        assert weights.frequency(word) >= share[word] * len(cars.items)


def test_heavier_words_come_first():
    """A word two items share and few others hold outranks one that many hold."""
    texts = [content_words("", d) for d in ["red racing engine", "red racing wheel", "red bus", "red van", "blue van"]]
    weights = WordWeights.from_texts(texts)
    assert weights.idf("racing") > weights.idf("red")
    explainer = Explainer(None, None, [], weights)
    a, b = explainer_counts("red racing engine"), explainer_counts("red racing wheel")
    assert explainer.shared_words(a, b, b) == ("racing",)  # "red" is in 4 of 5: common, left out


def explainer_counts(text: str):
    from recommender.similarity.explain import word_counts

    return word_counts(text)


@pytest.fixture(scope="module")
def demo_explainer(tmp_path_factory) -> tuple[Explainer, dict[str, int]]:
    items, _, _ = movielens_frames()
    items = items.reset_index(drop=True)
    directory = tmp_path_factory.mktemp("demo-table")
    frame = items.assign(description="", interaction_count=0, collaborative_share=0.0)
    write_item_table(frame, directory)
    weights = WordWeights.from_texts(content_words(t, "") for t in frame["title"])
    rows = {title: i for i, title in enumerate(frame["title"])}
    return Explainer(ItemTable(directory), None, [], weights), rows


@pytest.mark.parametrize("a, b, expected", [
    ("Toy Story", "Toy Story 2", {"toy", "story"}),
    ("Star Wars: Episode IV - A New Hope", "Star Wars: Episode V - The Empire Strikes Back", {"star", "wars"}),
    ("Godfather, The", "Godfather: Part II, The", {"godfather"}),
])
def test_demo_words_still_name_what_two_films_share(demo_explainer, a, b, expected):
    explainer, rows = demo_explainer
    words = explainer.for_item(rows[a])(rows[b]).words
    assert expected <= set(words), words
