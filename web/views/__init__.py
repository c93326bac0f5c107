"""View functions (the controllers), one blueprint per area."""
