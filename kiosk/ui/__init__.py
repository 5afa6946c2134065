"""The residents' screens of the kiosk (Kivy). See docs/ui.md.

SCREENS is the one list of screens the App builds, as (name, "module:Class").
Another mode adds its screens with ``KioskApp.register_screen`` (or appends
here), e.g. ("pin", "kiosk.ui.pin:PinScreen"); the home screen's corner button
opens the screen named "pin" when there is one.
"""

SCREENS = [
    ("home", "kiosk.ui.home:HomeScreen"),
    ("checkin", "kiosk.ui.checkin:CheckinScreen"),
    ("reason", "kiosk.ui.reason:ReasonScreen"),
    ("confirmation", "kiosk.ui.confirmation:ConfirmationScreen"),
    ("workshops", "kiosk.ui.workshops:WorkshopsScreen"),
    ("workshop", "kiosk.ui.workshop_detail:WorkshopDetailScreen"),
    ("first_visit", "kiosk.ui.first_visit:FirstVisitScreen"),
    ("consent", "kiosk.ui.consent:ConsentScreen"),
    ("card", "kiosk.ui.card:CardScreen"),
]
