"""Parley: the domain and adapters behind app.py."""
