"""Parley as a server: the OpenAI Realtime WebSocket, OpenAI-compatible HTTP, health, metrics."""
