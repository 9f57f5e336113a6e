"""The domain: users, services, availability, bookings and their events.

Nothing here knows about HTTP, GraphQL or any provider.
"""
