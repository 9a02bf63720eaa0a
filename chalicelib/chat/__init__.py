"""Conversations, messages, routing and the queue."""
