"""Outbound HTTP to addresses outside the deployment: the address rules and the one post (webhooks, team
alerts, the bot's lookups)."""
