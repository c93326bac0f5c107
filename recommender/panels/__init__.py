"""The lists beside "similar items" (issue 24): `trending` (time-decayed counts of recent events),
`bought_together` (items sharing orders, kept with each version)."""
