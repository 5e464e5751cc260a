"""Acceptance and retention telemetry: what happened to suggestions, as metadata only (never code)."""
