"""Jitsi Meet video provider: unguessable room links on any Jitsi server, no account needed."""
