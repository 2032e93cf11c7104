"""Command-line interface; each command group lives in its own module."""
