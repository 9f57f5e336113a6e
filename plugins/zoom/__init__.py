"""Zoom video provider: each specialist connects their own Zoom; one meeting per booking."""
