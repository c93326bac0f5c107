"""Lists beyond "similar to this item" (issue 24): for-you and because-you-viewed, scored per request from a
visitor's recent events through a served model's item-item neighbours. No Flask here."""
