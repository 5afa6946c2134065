"""The front door of the kiosk's domain: one object holding each service.

    centre = Centre.open("accueil.db")
    member = centre.members.register(first_name="Aïcha", last_name="Benali", ...)
    centre.visits.check_in(member_id=member["id"], reason="demarches")

The UI and the command line hold a Centre; they never touch SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from kiosk.core.duplicates import Duplicates
from kiosk.core.households import Households
from kiosk.core.members import Members
from kiosk.core.outreach import Outreach
from kiosk.core.privacy import Privacy
from kiosk.core.review import Review
from kiosk.core.settings import Settings
from kiosk.core.staff import Staff
from kiosk.core.store import Store
from kiosk.core.visits import Visits
from kiosk.core.voice import Voice
from kiosk.core.volunteering import Volunteering
from kiosk.core.workshops import Workshops
from sync.clock import utc_now


class Centre:
    def __init__(self, store: Store):
        self.store = store
        self.settings = Settings(store)
        self.members = Members(store, self.settings)
        self.households = Households(store, self.settings)
        self.visits = Visits(store, self.settings)
        self.outreach = Outreach(store, self.settings)  # the itinerant mode (« hors les murs »)
        self.workshops = Workshops(store)
        self.staff = Staff(store)
        self.privacy = Privacy(store, self.settings)
        self.volunteering = Volunteering(store)
        self.review = Review(store)
        self.duplicates = Duplicates(store, self.settings)  # « Doublons possibles »
        self.voice = Voice(store)  # the idea box and the faces after a workshop

    @classmethod
    def open(cls, path: str | Path, clock: Callable[[], datetime] = utc_now) -> Centre:
        return cls(Store.open(path, clock=clock))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Centre:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
