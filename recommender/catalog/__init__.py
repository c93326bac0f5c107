"""Reading catalogs: files and archives, value checks, the sources builds read through, CSV export, the demo."""
