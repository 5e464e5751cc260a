"""What may leave the machine: content exclusion (and, later, redaction)."""
