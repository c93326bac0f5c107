"""Form models (Flask-WTF, with CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, FileField, HiddenField, IntegerField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from recommender.limits import ITEM_ID_MAX_CHARS, K_DEFAULT, K_MAX, K_MIN


class SimilarItemForm(FlaskForm):
    """Which item, and how many neighbours: the form of /items/similar."""

    item_id = StringField("Item id", validators=[
        DataRequired(message="Enter an item id."),
        Length(max=ITEM_ID_MAX_CHARS, message=f"An item id is at most {ITEM_ID_MAX_CHARS} characters."),
        Regexp(r"^[^\x00-\x1f/]+$", message="An item id cannot contain '/' or control characters."),
    ], filters=[lambda value: value.strip() if isinstance(value, str) else value])
    k = IntegerField("How many", default=K_DEFAULT, validators=[
        NumberRange(min=K_MIN, max=K_MAX, message=f"Choose between {K_MIN} and {K_MAX}."),
    ])


class LoginForm(FlaskForm):
    token = PasswordField("Admin token", validators=[DataRequired(message="Enter the admin token.")])
    next = HiddenField()


class UploadForm(FlaskForm):
    items = FileField("Items file (CSV or Parquet)")
    interactions = FileField("Interactions file (optional)")
    mode = RadioField("How", default="replace", validate_choice=False, choices=[
        SelectChoice("replace", "Replace the catalog (items not in the file are removed)"),
        SelectChoice("merge", "Merge (add and update the file's items, keep the others)")])
    clear_events = BooleanField("Also clear events (those sent through the events API, and clicks)")


class ActionForm(FlaskForm):
    """Just the CSRF token, for the buttons that POST."""
