"""What the admin page, the admin API and the items and events APIs do, apart from HTTP: each view only
translates between a request and one of these calls."""
