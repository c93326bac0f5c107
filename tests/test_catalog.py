"""Catalog loading and validation: every problem names the file, the column and the rows to fix."""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from recommender.catalog.csv_export import safe_csv_text
from recommender.catalog.load import CatalogError, load_catalog, load_interactions, load_items

GOOD_ITEMS = "item_id,title,description,categories,year\n1,Alpha,First,Drama|Comedy,1990\n2,Beta,Second,Horror,2001\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems_of(call, *args) -> list:
    with pytest.raises(CatalogError) as info:
        call(*args)
    assert info.value.problems, "a CatalogError must carry at least one problem"
    return info.value.problems


def only_problem(call, *args):
    problems = problems_of(call, *args)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# -- required columns -----------------------------------------------------------------------------

@pytest.mark.parametrize("missing", ["item_id", "title"])
def test_missing_required_column_is_named(tmp_path, missing):
    """An items file without item_id or title cannot be used, and the message says which is absent."""
    columns = [c for c in ("item_id", "title", "year") if c != missing]
    path = write(tmp_path / "items.csv", ",".join(columns) + "\n" + ",".join(["1", "x", "2000"][: len(columns)]) + "\n")
    problems = problems_of(load_items, path)
    named = [p for p in problems if p.column == missing]
    assert named, [str(p) for p in problems]
    assert named[0].file == "items.csv"
    assert "missing" in named[0].message
    assert "items.csv" in str(named[0]) and missing in str(named[0])


def test_interactions_missing_user_id_column(tmp_path):
    """Interactions need a user_id column too."""
    items = load_items(write(tmp_path / "items.csv", GOOD_ITEMS))
    path = write(tmp_path / "interactions.csv", "item_id,rating\n1,5\n")
    problem = only_problem(load_interactions, path, items["item_id"])
    assert problem.column == "user_id" and problem.file == "interactions.csv"


# -- row-level problems ---------------------------------------------------------------------------

def test_duplicate_item_id_lists_spreadsheet_rows(tmp_path):
    """Rows are numbered as a spreadsheet shows them: header row 1, first data row 2."""
    text = "item_id,title\n10,A\n11,B\n10,C\n12,D\n 11 ,E\n"
    problem = only_problem(load_items, write(tmp_path / "items.csv", text))
    assert problem.column == "item_id"
    assert "duplicate" in problem.message
    # data rows: 10 -> row 2, 11 -> 3, 10 -> 4, 12 -> 5, " 11 " -> 6; ids 10 and 11 repeat.
    assert {4, 6} <= set(problem.rows) <= {2, 3, 4, 6}
    assert "4" in str(problem) and "6" in str(problem) and "items.csv" in str(problem)


def test_empty_id_and_empty_title_are_both_reported(tmp_path):
    """Several problems in one file come back together, each with its own column and rows."""
    text = "item_id,title\n1,A\n,B\n3,\n4,   \n"
    problems = problems_of(load_items, write(tmp_path / "items.csv", text))
    by_column = {p.column: p for p in problems}
    assert set(by_column) == {"item_id", "title"}
    assert by_column["item_id"].rows == (3,)
    assert set(by_column["title"].rows) == {4, 5}
    assert "empty" in by_column["item_id"].message and "empty" in by_column["title"].message


@pytest.mark.parametrize("bad", ["abc", "19.5", "-4", "99999"])
def test_unparsable_year(tmp_path, bad):
    """A year must be a plausible whole number; the bad row is pointed at."""
    text = f"item_id,title,year\n1,A,1999\n2,B,{bad}\n3,C,\n"
    problem = only_problem(load_items, write(tmp_path / "items.csv", text))
    assert problem.column == "year"
    assert problem.rows == (3,)
    assert "year" in str(problem) and "items.csv" in str(problem)


def test_interactions_naming_unknown_items(tmp_path):
    """Interactions that point at items not in the items file are rejected with their rows and ids."""
    items = load_items(write(tmp_path / "items.csv", GOOD_ITEMS))
    path = write(tmp_path / "interactions.csv", "user_id,item_id\nu1,1\nu1,404\nu2,2\nu2,405\n")
    problem = only_problem(load_interactions, path, items["item_id"])
    assert problem.column == "item_id" and problem.file == "interactions.csv"
    assert set(problem.rows) == {3, 5}
    assert "404" in problem.message and "405" in problem.message


def test_bad_rating_and_timestamp(tmp_path):
    """Ratings must be numbers and timestamps Unix times or dates."""
    items = load_items(write(tmp_path / "items.csv", GOOD_ITEMS))
    path = write(tmp_path / "interactions.csv",
                 "user_id,item_id,rating,timestamp\nu1,1,five,1600000000\nu1,2,4,not a date\n")
    problems = problems_of(load_interactions, path, items["item_id"])
    by_column = {p.column: p for p in problems}
    assert by_column["rating"].rows == (2,)
    assert by_column["timestamp"].rows == (3,)


# -- file-level problems ----------------------------------------------------------------------------

def test_wrong_encoding_names_utf8_and_line(tmp_path):
    """A Latin-1 file is refused with a hint to save as UTF-8 and the line of the first bad byte."""
    raw = b"item_id,title\n1,Alpha\n2,Am\xe9lie\n"
    problem = only_problem(load_items, write(tmp_path / "items.csv", raw))
    assert "UTF-8" in problem.message
    assert "line 3" in problem.message
    assert problem.file == "items.csv"


def test_utf8_with_bom_is_accepted(tmp_path):
    """Excel's 'CSV UTF-8' adds a byte order mark; the first column must still be item_id."""
    raw = "\ufeffitem_id,title\n1,Amélie\n".encode()
    items = load_items(write(tmp_path / "items.csv", raw))
    assert items["item_id"].tolist() == ["1"] and items["title"].tolist() == ["Amélie"]


def test_empty_file(tmp_path):
    """A 0-byte upload says the file is empty."""
    problem = only_problem(load_items, write(tmp_path / "items.csv", b""))
    assert "empty" in problem.message and problem.file == "items.csv"


def test_header_only_file(tmp_path):
    """A header with no rows is not a catalog."""
    problem = only_problem(load_items, write(tmp_path / "items.csv", "item_id,title\n"))
    assert "no rows" in problem.message


@pytest.mark.parametrize("name", ["items.xlsx", "items.txt", "items"])
def test_unsupported_extension(tmp_path, name):
    """Only CSV and Parquet are read; the message says which types are accepted."""
    problem = only_problem(load_items, write(tmp_path / name, GOOD_ITEMS))
    assert "csv" in problem.message.lower() and "parquet" in problem.message.lower()
    assert problem.file == name


def test_missing_file(tmp_path):
    """A path that does not exist is a problem, not a crash."""
    problem = only_problem(load_items, tmp_path / "nowhere.csv")
    assert "not found" in problem.message


def test_zip_renamed_to_csv(tmp_path):
    """A zip archive with a .csv name is recognised as an archive."""
    path = tmp_path / "items.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("items.csv", GOOD_ITEMS)
    problem = only_problem(load_items, path)
    assert "zip" in problem.message.lower()


def test_duplicate_column_names(tmp_path):
    """Two 'title' columns are ambiguous; the duplicated column is named."""
    text = "item_id,title,title\n1,A,B\n"
    problems = problems_of(load_items, write(tmp_path / "items.csv", text))
    assert any(p.column == "title" and "more than once" in p.message for p in problems), \
        [str(p) for p in problems]


def test_duplicate_column_names_differing_in_spaces(tmp_path):
    """' title' and 'title' are the same column once stripped."""
    problems = problems_of(load_items, write(tmp_path / "items.csv", "item_id,title, title\n1,A,B\n"))
    assert any(p.column == "title" for p in problems)


def test_too_many_columns_csv(tmp_path):
    """A very wide file is refused before pandas tries to build it."""
    header = ["item_id", "title"] + [f"c{i}" for i in range(998)]
    text = ",".join(header) + "\n" + ",".join(["1", "A"] + ["x"] * 998) + "\n"
    problem = only_problem(load_items, write(tmp_path / "items.csv", text))
    assert "too many columns" in problem.message and "1000" in problem.message


def test_too_many_columns_parquet(tmp_path):
    """The same limit holds for Parquet files."""
    frame = pd.DataFrame({"item_id": ["1"], "title": ["A"], **{f"c{i}": ["x"] for i in range(998)}})
    path = tmp_path / "items.parquet"
    frame.to_parquet(path)
    problem = only_problem(load_items, path)
    assert "too many columns" in problem.message


def test_parquet_that_is_not_parquet(tmp_path):
    """A text file named .parquet is a readable problem, not a pyarrow traceback."""
    problem = only_problem(load_items, write(tmp_path / "items.parquet", GOOD_ITEMS))
    assert "Parquet" in problem.message


@pytest.mark.parametrize("column", ["title", "description", "categories"])
def test_formula_like_cells_load_as_text_and_leave_neutralised(tmp_path, column):
    """A cell a spreadsheet would execute (CSV injection) is kept as the text it is on the way in, and
    comes out of write_safe_csv with a leading apostrophe, so a spreadsheet shows it as text."""
    frame = pd.DataFrame({"item_id": ["1", "2"], "title": ["Alpha", "Beta"],
                          "description": ["a", "b"], "categories": ["Drama", "Comedy"]})
    frame.loc[1, column] = "=cmd|' /C calc'!A0"
    path = tmp_path / "items.csv"
    frame.to_csv(path, index=False)
    items = load_items(path)
    assert items.loc[1, column] == "=cmd|' /C calc'!A0"
    exported = pd.read_csv(io.StringIO(safe_csv_text(items)), dtype=str, keep_default_na=False)
    assert exported.loc[1, column] == "'=cmd|' /C calc'!A0"
    assert exported.loc[0, column] == items.loc[0, column]


@pytest.mark.parametrize("value", ["-5", "+12", "-", "A - B (remix)", "Don't stop"])
def test_harmless_leading_signs_are_not_formulas(tmp_path, value):
    """Plain numbers and ordinary text must not be mistaken for formulas."""
    frame = pd.DataFrame({"item_id": ["1"], "title": [value]})
    path = tmp_path / "items.csv"
    frame.to_csv(path, index=False)
    assert load_items(path)["title"].tolist() == [value.strip()]


def test_multiple_problems_in_one_file_reported_together(tmp_path):
    """An operator sees all problems at once: duplicates, empty titles and bad years in one error."""
    text = "item_id,title,year\n1,A,1990\n1,B,1991\n2,,1992\n3,C,soon\n"
    problems = problems_of(load_items, write(tmp_path / "items.csv", text))
    assert {p.column for p in problems} == {"item_id", "title", "year"}
    message = str(CatalogError(problems))
    assert all(str(p) in message for p in problems)


def test_problems_in_both_files_reported_together(tmp_path):
    """load_catalog promises every problem in either file at once, so a broken items file must not
    hide a broken interactions file (here: a missing user_id column)."""
    items = write(tmp_path / "items.csv", "item_id,title\n1,A\n2,\n")
    interactions = write(tmp_path / "interactions.csv", "customer,item_id\nu1,1\n")
    problems = problems_of(load_catalog, items, interactions)
    files = {p.file for p in problems}
    assert files == {"items.csv", "interactions.csv"}, [str(p) for p in problems]


def test_problems_in_interactions_are_collected(tmp_path):
    """With good items, several interaction problems come back in one error."""
    items = write(tmp_path / "items.csv", GOOD_ITEMS)
    interactions = write(tmp_path / "interactions.csv", "user_id,item_id,rating\nu1,1,5\n,2,x\nu2,9,4\n")
    problems = problems_of(load_catalog, items, interactions)
    assert {p.column for p in problems} == {"user_id", "item_id", "rating"}
    assert all(p.file == "interactions.csv" for p in problems)


def test_problem_str_and_dict_name_file_column_rows(tmp_path):
    """The text an operator reads names the file, the column and the rows."""
    problem = only_problem(load_items, write(tmp_path / "items.csv", "item_id,title\n1,A\n2,\n"))
    text = str(problem)
    assert "items.csv" in text and "'title'" in text and "3" in text
    as_dict = problem.as_dict()
    assert as_dict["file"] == "items.csv" and as_dict["column"] == "title" and as_dict["rows"] == [3]


def test_many_bad_rows_are_abbreviated(tmp_path):
    """Thousands of bad rows do not produce a thousand-number message."""
    rows = "".join(f"{i},\n" for i in range(1000))
    problem = only_problem(load_items, write(tmp_path / "items.csv", "item_id,title\n" + rows))
    assert len(problem.rows) == 1000
    assert len(str(problem)) < 300 and "…" in str(problem)


# -- what a good file loads as ------------------------------------------------------------------

def test_integer_ids_come_back_as_strings(tmp_path):
    """Ids are labels: '007' stays '007' and 12 becomes '12'."""
    items = load_items(write(tmp_path / "items.csv", "item_id,title\n007,Bond\n12,Twelve\n"))
    assert items["item_id"].tolist() == ["007", "12"]
    assert all(isinstance(v, str) for v in items["item_id"])


def test_extra_columns_are_kept_as_attributes(tmp_path):
    """Columns the recommender does not know are carried through unchanged."""
    text = "item_id,title,studio,image_url\n1,A,Ghibli,https://example.org/a.png\n2,B,,\n"
    catalog = load_catalog(write(tmp_path / "items.csv", text))
    assert catalog.attribute_columns == ["studio", "image_url"]
    assert catalog.items["studio"].tolist() == ["Ghibli", ""]
    assert catalog.items["image_url"].tolist()[0] == "https://example.org/a.png"


def test_optional_columns_get_defaults(tmp_path):
    """Only item_id and title are required; the rest default to empty text and unknown year."""
    items = load_items(write(tmp_path / "items.csv", "item_id,title\n1,A\n2,B\n"))
    assert items["description"].tolist() == ["", ""]
    assert items["categories"].tolist() == ["", ""]
    assert items["year"].isna().all() and len(items) == 2


def test_categories_keep_pipe_separators(tmp_path):
    """'Drama|Comedy' is kept whole so the model can split it."""
    items = load_items(write(tmp_path / "items.csv", GOOD_ITEMS))
    assert items["categories"].tolist() == ["Drama|Comedy", "Horror"]
    assert items["year"].tolist() == [1990, 2001]


def test_text_is_stripped(tmp_path):
    """Stray spaces around ids and titles are not part of them."""
    items = load_items(write(tmp_path / "items.csv", "item_id,title\n 5 ,  Alpha  \n"))
    assert items["item_id"].tolist() == ["5"] and items["title"].tolist() == ["Alpha"]


def test_parquet_loads_like_csv(tmp_path):
    """The same table as Parquet (with integer ids and years) loads exactly as the CSV does."""
    frame = pd.DataFrame({"item_id": [1, 2, 3], "title": ["Alpha", "Beta", "Gamma"],
                          "description": ["a", "", "c"], "categories": ["Drama|Comedy", "Horror", ""],
                          "year": [1990, 2001, 1975], "studio": ["S1", "S2", "S3"]})
    frame.to_csv(tmp_path / "items.csv", index=False)
    frame.to_parquet(tmp_path / "items.parquet", index=False)
    from_csv = load_items(tmp_path / "items.csv")
    from_parquet = load_items(tmp_path / "items.parquet")
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False)
    assert from_parquet["item_id"].tolist() == ["1", "2", "3"]


def test_parquet_validation_matches_csv(tmp_path):
    """Parquet files get the same row checks (here a duplicate id) as CSV files."""
    pd.DataFrame({"item_id": ["1", "1"], "title": ["A", "B"]}).to_parquet(tmp_path / "items.parquet")
    problem = only_problem(load_items, tmp_path / "items.parquet")
    assert problem.column == "item_id" and problem.rows == (3,)


def test_timestamps_unix_and_iso_dates(tmp_path):
    """Unix seconds and ISO dates both become Unix seconds."""
    items = load_items(write(tmp_path / "items.csv", GOOD_ITEMS))
    path = write(tmp_path / "interactions.csv",
                 "user_id,item_id,rating,timestamp\n"
                 "u1,1,5,1600000000\n"
                 "u1,2,4,2020-01-02\n"
                 "u2,1,3,2021-06-30T12:30:00Z\n"
                 "u2,2,,\n")
    interactions = load_interactions(path, items["item_id"])
    expected = [1_600_000_000,
                datetime(2020, 1, 2, tzinfo=timezone.utc).timestamp(),
                datetime(2021, 6, 30, 12, 30, tzinfo=timezone.utc).timestamp()]
    assert interactions["timestamp"].tolist()[:3] == pytest.approx(expected)
    assert pd.isna(interactions["timestamp"].iloc[3]) and pd.isna(interactions["rating"].iloc[3])
    assert interactions["rating"].tolist()[:3] == [5.0, 4.0, 3.0]
    assert interactions["user_id"].tolist() == ["u1", "u1", "u2", "u2"]


def test_interactions_without_rating_or_timestamp(tmp_path):
    """Rating and timestamp are optional and come back as missing values."""
    items = load_items(write(tmp_path / "items.csv", GOOD_ITEMS))
    interactions = load_interactions(write(tmp_path / "i.csv", "user_id,item_id\nu1,1\n"), items["item_id"])
    assert interactions["rating"].isna().all() and interactions["timestamp"].isna().all()


def test_load_catalog_good_files(small_catalog):
    """The generated fixture catalog loads with its interactions and a source hash."""
    catalog = load_catalog(small_catalog.items, small_catalog.interactions)
    assert len(catalog.items) == len(pd.read_csv(small_catalog.items))
    assert len(catalog.interactions) == len(pd.read_csv(small_catalog.interactions))
    assert len(catalog.source_hash) >= 8


# -- source hash --------------------------------------------------------------------------------------

def test_source_hash_same_for_same_content(tmp_path, small_catalog):
    """Copies of the same files (anywhere) hash the same, so rebuilds of unchanged data are visible."""
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    items = shutil.copy(small_catalog.items, copy_dir / "other-name.csv")
    interactions = shutil.copy(small_catalog.interactions, copy_dir / "i.csv")
    first = load_catalog(small_catalog.items, small_catalog.interactions).source_hash
    assert load_catalog(items, interactions).source_hash == first


def test_source_hash_changes_with_content(tmp_path, small_catalog):
    """Changing one title, or dropping the interactions file, changes the hash."""
    original = load_catalog(small_catalog.items, small_catalog.interactions).source_hash
    frame = pd.read_csv(small_catalog.items, dtype=str)
    frame.loc[0, "title"] = frame.loc[0, "title"] + " (remastered)"
    changed = tmp_path / "items.csv"
    frame.to_csv(changed, index=False)
    assert load_catalog(changed, small_catalog.interactions).source_hash != original
    assert load_catalog(small_catalog.items).source_hash != original
