"""popbased: evolutionary population-based training on DeepMind Melting Pot."""

__version__ = "0.1.0"
