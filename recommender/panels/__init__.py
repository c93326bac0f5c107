"""Lists beyond "similar to this item" (issue 24), no Flask here: `for_you` and `because_viewed`, scored per
request from a visitor's recent events through a served model's item-item neighbours; `trending` (time-decayed
counts of recent events) and `bought_together` (items sharing orders, kept with each version; counted by
`co_purchases`)."""
