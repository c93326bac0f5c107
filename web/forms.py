"""Form models (Flask-WTF, with CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from recommender.model import MAX_K


class SimilarItemForm(FlaskForm):
    """The seed's similar_item_form: which item, and how many neighbours."""

    item_id = StringField("Item id", validators=[
        DataRequired(message="Enter an item id."),
        Length(max=200, message="An item id is at most 200 characters."),
        Regexp(r"^[^\x00-\x1f/]+$", message="An item id cannot contain '/' or control characters."),
    ], filters=[lambda value: value.strip() if isinstance(value, str) else value])
    k = IntegerField("How many", default=10, validators=[
        NumberRange(min=1, max=MAX_K, message=f"Choose between 1 and {MAX_K}."),
    ])
