"""Conversation storage and recall."""
