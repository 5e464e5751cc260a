"""keystroke: self-hostable, real-time code completion."""

__version__ = "0.1.0"
