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
    ("ideas", "kiosk.ui.ideas:IdeasScreen"),
    # the federation's other centres: their week, and a seat asked there
    ("elsewhere", "kiosk.ui.elsewhere:ElsewhereScreen"),
    ("elsewhere_ask", "kiosk.ui.elsewhere_ask:ElsewhereAskScreen"),
    # volunteer and staff modes behind a PIN (kiosk.ui.mode guards them)
    ("pin", "kiosk.ui.pin:PinScreen"),
    ("volunteer", "kiosk.ui.volunteer_home:VolunteerHomeScreen"),
    ("sessions_today", "kiosk.ui.volunteer_sessions:SessionsTodayScreen"),
    ("roll_call", "kiosk.ui.volunteer_roll_call:RollCallScreen"),
    ("member_card", "kiosk.ui.volunteer_member_card:MemberCardScreen"),
    ("member_situation", "kiosk.ui.member_situation:MemberSituationScreen"),
    ("feedback", "kiosk.ui.feedback:FeedbackScreen"),
    ("staff_home", "kiosk.ui.staff_home:StaffHomeScreen"),
    ("staff_workshops", "kiosk.ui.staff_workshops:StaffWorkshopsScreen"),
    ("staff_sheets", "kiosk.ui.staff_sheets:StaffSheetsScreen"),
    ("staff_sync", "kiosk.ui.staff_sync:StaffSyncScreen"),
    ("staff_devices", "kiosk.ui.staff_devices:StaffDevicesScreen"),
    ("staff_exports", "kiosk.ui.staff_exports:StaffExportsScreen"),
    ("staff_privacy", "kiosk.ui.staff_privacy:StaffPrivacyScreen"),
    ("staff_settings", "kiosk.ui.staff_settings:StaffSettingsScreen"),
    ("staff_accounts", "kiosk.ui.staff_accounts:StaffAccountsScreen"),
    ("staff_audit", "kiosk.ui.staff_audit:StaffAuditScreen"),
    ("staff_backups", "kiosk.ui.staff_backups:StaffBackupsScreen"),
    ("staff_ideas", "kiosk.ui.staff_ideas:StaffIdeasScreen"),
    ("staff_volunteering", "kiosk.ui.staff_volunteering:StaffVolunteeringScreen"),
    ("staff_review", "kiosk.ui.staff_review:StaffReviewScreen"),
    ("staff_duplicates", "kiosk.ui.staff_duplicates:StaffDuplicatesScreen"),
    ("staff_outreach", "kiosk.ui.staff_outreach:StaffOutreachScreen"),
    ("staff_requests", "kiosk.ui.staff_requests:StaffRequestsScreen"),
]
