"""The API's examples and its readable reference page, both made from the OpenAPI document."""
