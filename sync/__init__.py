"""Sync between the box and the provincial hub (protocol, client, hub) — arrives with its own issue."""
