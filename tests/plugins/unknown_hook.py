"""A plugin implementing a hook that does not exist."""

from specialistly.hookspecs import hookimpl


@hookimpl
def no_such_hook() -> None:
    return None
