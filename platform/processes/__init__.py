"""Process entry points and their wiring: the CLI, the ASGI app, the worker, dev mode."""
