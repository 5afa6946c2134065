"""The kiosk's domain and storage: plain Python, no Kivy, no HTTP.

``Centre.open(path)`` (kiosk/core/centre.py) is the front door the UI and the
command line use; each service lives in the module its name says.
"""

from kiosk.core.errors import Conflict, DomainError, InvalidInput, Locked, NotFound
from kiosk.core.store import Store

__all__ = ["Conflict", "DomainError", "InvalidInput", "Locked", "NotFound", "Store"]
