"""Stripe payment provider: paid bookings, signed webhooks, refunds, Connect payouts, earnings."""
