"""Running the web tier and its companions on one machine: the `make run` launcher, its supervisor and
gunicorn's settings."""
