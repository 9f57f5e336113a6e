"""SendGrid email provider: mail through SendGrid v3 and its signed Event Webhook."""
