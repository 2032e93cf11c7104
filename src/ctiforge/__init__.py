"""ctiforge: specialist language models for defensive cyber threat intelligence."""

__version__ = "0.1.0"

__all__ = ["__version__"]
