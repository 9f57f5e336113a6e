"""Built-in features that are plugins themselves, using the same hooks as any partner's."""
