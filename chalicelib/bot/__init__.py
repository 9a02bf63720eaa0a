"""The bot: a site's flow (schema, versions), the engine that walks it, and its lookups (docs/bot.md)."""
