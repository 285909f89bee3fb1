"""Tenants (companies sharing one installation): their settings, API keys and webhook secrets."""
