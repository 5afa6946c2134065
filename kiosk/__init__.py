"""Accueil: the reception kiosk of a centre social."""

__version__ = "0.1.0"
