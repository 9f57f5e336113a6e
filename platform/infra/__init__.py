"""Infrastructure the processes share: database, broker, tokens, rate limits, logging."""
