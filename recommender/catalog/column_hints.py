"""What to say when a required column is missing: the columns the file has, and the one most likely meant.

"required column is missing" alone sends an operator back to a spreadsheet to guess; naming the columns
found and the nearest one (`Make` for `title` in MASS/Cars93) lets them rename it, or map it on the upload
page. Common other names come first (a "name" column is a title whatever its spelling), then difflib.
"""

from __future__ import annotations

import difflib
import re

COLUMNS_LISTED = 30
SIMILAR_CUTOFF = 0.6
# Other names a required column goes by in shop exports and public datasets, most likely first.
OTHER_NAMES = {
    "item_id": ("id", "itemid", "sku", "product_id", "productid", "movieid", "article", "rownames", "code"),
    "title": ("name", "product_name", "productname", "product", "make", "label", "model", "headline"),
    "user_id": ("userid", "user", "customer_id", "customerid", "customer", "visitor_id", "visitor", "member"),
}


def _folded(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def nearest_column(wanted: str, found: list[str]) -> str | None:
    """The column of `found` most likely meant as `wanted`, or None when none is close."""
    folded = {_folded(name): name for name in reversed(found)}
    for other in (wanted, *OTHER_NAMES.get(wanted, ())):
        if _folded(other) in folded:
            return folded[_folded(other)]
    close = difflib.get_close_matches(_folded(wanted), list(folded), n=1, cutoff=SIMILAR_CUTOFF)
    return folded[close[0]] if close else None


def missing_column_message(wanted: str, found: list[str]) -> str:
    """ "required column is missing; the file has columns a, b, c; did you mean 'b'?" """
    listed = ", ".join(found[:COLUMNS_LISTED]) + (f" and {len(found) - COLUMNS_LISTED} more"
                                                   if len(found) > COLUMNS_LISTED else "")
    message = f"required column is missing; the file has columns {listed or '(none)'}"
    nearest = nearest_column(wanted, found)
    return message + (f"; did you mean '{nearest}'? (rename it to {wanted})"
                      if nearest else "")
