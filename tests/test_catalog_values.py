"""Values that must be refused (or, for image links, blanked with a note), each naming file, column, rows."""

from __future__ import annotations

import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recommender.catalog.load import CatalogError, load_catalog, load_interactions, load_items
from recommender.catalog.values import MAX_ABS_RATING

ITEMS = "item_id,title\n1,A\n2,B\n"


def problem_for(call, path, *args, column):
    with pytest.raises(CatalogError) as info:
        call(path, *args)
    found = [p for p in info.value.problems if p.column == column]
    assert len(found) == 1, [str(p) for p in info.value.problems]
    assert found[0].file == path.name
    return found[0]


def interactions_file(tmp_path, column: str, bad: str):
    """Three rows, the middle one (spreadsheet row 3) holding the bad value."""
    good = {"rating": "4", "timestamp": "1600000000"}[column]
    path = tmp_path / "interactions.csv"
    path.write_text(f"user_id,item_id,{column}\nu1,1,{good}\nu1,2,{bad}\nu2,1,{good}\n")
    return path


@pytest.mark.parametrize("bad", ["inf", "-inf", "Infinity", "NaN", "nan", "1e308", str(MAX_ABS_RATING * 10)])
def test_ratings_out_of_range_are_refused(tmp_path, bad):
    problem = problem_for(load_interactions, interactions_file(tmp_path, "rating", bad), None, column="rating")
    assert problem.rows == (3,)


@pytest.mark.parametrize("good", ["-1", "0", "4.5", "100", str(MAX_ABS_RATING)])
def test_ratings_on_any_scale_are_accepted(tmp_path, good):
    loaded = load_interactions(interactions_file(tmp_path, "rating", good), None)
    assert loaded["rating"].tolist() == [4.0, float(good), 4.0]


def test_parquet_float_ratings_are_checked_too(tmp_path):
    path = tmp_path / "interactions.parquet"
    pd.DataFrame({"user_id": ["u1", "u2", "u3"], "item_id": ["1", "2", "1"],
                  "rating": [4.0, float("inf"), float("nan")]}).to_parquet(path)
    assert problem_for(load_interactions, path, None, column="rating").rows == (3,)


@pytest.mark.parametrize("bad", ["2099-01-01", "4102444800", "1e300", "-1", "1600000000000", "1900-05-01"])
def test_timestamps_outside_1970_to_tomorrow_are_refused(tmp_path, bad):
    problem = problem_for(load_interactions, interactions_file(tmp_path, "timestamp", bad), None, column="timestamp")
    assert problem.rows == (3,) and "1970" in problem.message


def test_timestamp_within_the_clock_skew_is_accepted(tmp_path):
    soon = str(int(time.time()) + 3600)
    loaded = load_interactions(interactions_file(tmp_path, "timestamp", soon), None)
    assert loaded["timestamp"].tolist()[1] == float(soon)


@pytest.mark.parametrize("bad", [".", "..", "a\nb", "a\tb", "a\x00b", "a\x1bb", "a\x85b", "a\u2028b"], ids=repr)
def test_item_ids_that_cannot_be_path_segments_are_refused(tmp_path, bad):
    path = tmp_path / "items.parquet"
    pd.DataFrame({"item_id": ["1", bad, "3"], "title": ["A", "B", "C"]}).to_parquet(path)
    problem = problem_for(load_items, path, column="item_id")
    assert problem.rows == (3,) and "item ids" in problem.message


def test_quoted_newline_in_a_csv_item_id_is_refused(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text('item_id,title\n1,A\n"x\ny",B\n')
    assert problem_for(load_items, path, column="item_id").rows == (3,)


def test_ids_with_dots_inside_are_fine(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title\n1.5,A\n...,B\nv1.2.3,C\n")
    assert load_items(path)["item_id"].tolist() == ["1.5", "...", "v1.2.3"]


NESTED = {"list": pa.list_(pa.string()), "struct": pa.struct([("a", pa.string())]), "binary": pa.binary(),
          "large_binary": pa.large_binary(), "map": pa.map_(pa.string(), pa.string())}
SAMPLES = {"list": [["a"], ["b"]], "struct": [{"a": "x"}, {"a": "y"}], "binary": [b"\x00\xff", b"b"],
           "large_binary": [b"a", b"b"], "map": [[("k", "v")], [("k", "w")]]}


@pytest.mark.parametrize("column", ["item_id", "title"])
@pytest.mark.parametrize("kind", list(NESTED))
def test_parquet_ids_and_titles_must_be_text_or_whole_numbers(tmp_path, kind, column):
    values = {"item_id": ["1", "2"], "title": ["A", "B"]}
    values[column] = pa.array(SAMPLES[kind], type=NESTED[kind])
    path = tmp_path / "items.parquet"
    pq.write_table(pa.table(values), path)
    problem = problem_for(load_items, path, column=column)
    assert "must be text or whole numbers" in problem.message and "items.parquet" in str(problem)


def test_parquet_interaction_ids_must_be_text_too(tmp_path):
    path = tmp_path / "interactions.parquet"
    pq.write_table(pa.table({"user_id": pa.array([b"u1"], pa.binary()), "item_id": ["1"]}), path)
    assert "text or whole numbers" in problem_for(load_interactions, path, None, column="user_id").message


def test_non_web_image_links_are_blanked_with_a_note(tmp_path):
    urls = ["https://example.org/a.png", "javascript:alert(1)", "http://cdn.example/b.jpg", "data:image/png;base64,AA",
            "", "file:///etc/passwd", "/images/c.png", "https://exa mple.org/x.png"]
    path = tmp_path / "items.csv"
    pd.DataFrame({"item_id": range(len(urls)), "title": "t", "image_url": urls}).to_csv(path, index=False)
    catalog = load_catalog(path)
    assert catalog.items["image_url"].tolist() == [urls[0], "", urls[2], "", "", "", "", ""]
    assert len(catalog.items) == len(urls)
    assert len(catalog.notes) == 1
    note = catalog.notes[0]
    assert "items.csv" in note and "'image_url'" in note and "5 value" in note
    assert "(rows 3, 5, 7, 8, 9)" in note


def test_catalog_with_good_image_links_has_no_notes(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,image\n1,A,https://example.org/a.png\n2,B,\n")
    catalog = load_catalog(path)
    assert catalog.notes == [] and catalog.items["image"].tolist() == ["https://example.org/a.png", ""]
