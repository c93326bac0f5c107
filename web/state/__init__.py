"""What each web process holds for itself and keeps fresh in the background: the served model, the
running experiment, the removed-items list, the tracking buffer, and the thread that polls for them."""
