"""Merchandising rules (pin, boost, bury, hide) checked, compiled against an index version and applied to a
ranked list at serving time, with no rebuild."""
