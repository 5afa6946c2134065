"""Pictograms: Material Design icon names to their code points in the shipped
font (kiosk/assets/fonts/MaterialIcons-Regular.ttf, Apache 2.0).

Kivy's text renderer does not apply the font's ligatures, so icons are drawn by
code point. Settings name icons by their Material name (a centre's reasons);
an unknown name falls back to ``help`` rather than an empty square. A test
checks every code point here against the font's character map.
"""

from __future__ import annotations

from pathlib import Path

from sync.protocol import THEME_PICTOGRAMS

ICON_FONT = str(Path(__file__).resolve().parent.parent / "assets" / "fonts" / "MaterialIcons-Regular.ttf")

CODEPOINTS = {
    "account_balance": 0xE84F,
    "arrow_back": 0xE5C4,
    "arrow_forward": 0xE5C8,
    "backpack": 0xF19C,
    "backspace": 0xE14A,
    "badge": 0xEA67,
    "block": 0xE14B,
    "calendar_month": 0xEBCC,
    "call_merge": 0xE0B3,
    "campaign": 0xEF49,
    "cancel": 0xE5C9,
    "check": 0xE5CA,
    "check_circle": 0xE86C,
    "close": 0xE5CD,
    "computer": 0xE30A,
    "devices": 0xE1B1,
    "event": 0xE878,
    "event_seat": 0xE903,
    "family_restroom": 0xF1A2,
    "groups": 0xF233,
    "help": 0xE887,
    "home": 0xE88A,
    "hourglass_empty": 0xE88B,
    "how_to_reg": 0xE174,
    "info": 0xE88E,
    "keyboard": 0xE312,
    "label": 0xE892,
    "language": 0xE894,
    "local_hospital": 0xE548,
    "lock": 0xE897,
    "menu_book": 0xEA19,
    "more_horiz": 0xE5D3,
    "no_accounts": 0xF03E,
    "person": 0xE7FD,
    "people": 0xE7FB,
    "person_off": 0xE510,
    "person_add": 0xE7FE,
    "place": 0xE55F,
    "print": 0xE8AD,
    "qr_code": 0xEF6B,
    "qr_code_scanner": 0xF206,
    "radio_button_checked": 0xE837,
    "radio_button_unchecked": 0xE836,
    "schedule": 0xE8B5,
    "school": 0xE80C,
    "search": 0xE8B6,
    "space_bar": 0xE256,
    "support_agent": 0xF0E2,
    "thumb_down": 0xE8DB,
    "thumb_up": 0xE8DC,
    "touch_app": 0xE913,
    "work": 0xE8F9,
    "weekend": 0xE16B,
    "wifi": 0xE63E,
    "volume_up": 0xE050,  # « Écouter »
    # volunteers' time and « À vérifier »
    "play_circle": 0xE1C4,
    "stop_circle": 0xEF71,
    "fact_check": 0xF0C5,
    "edit": 0xE3C9,
    # the volunteer and staff modes
    "add": 0xE145,
    "backup": 0xE864,
    "checklist": 0xE6B1,
    "cloud_done": 0xE2BF,
    "cloud_off": 0xE2C1,
    "cloud_upload": 0xE2C3,
    "credit_card": 0xE870,
    "delete_forever": 0xE92B,
    "dialpad": 0xE0BC,
    "done": 0xE876,
    "download": 0xF090,
    "event_busy": 0xE615,
    "folder": 0xE2C7,
    "history": 0xE889,
    "link": 0xE157,
    "logout": 0xE9BA,
    "manage_accounts": 0xF02E,
    "person_search": 0xF106,
    "picture_as_pdf": 0xE415,
    "privacy_tip": 0xF0DC,
    "refresh": 0xE5D5,
    "remove_circle": 0xE15C,
    "repeat": 0xE040,
    "restore": 0xE8B3,
    "save": 0xE161,
    "settings": 0xE8B8,
    "sync": 0xE627,
    "table_view": 0xF1BE,
    "visibility": 0xE8F4,
    "warning": 0xE002,
    # the residents' voice: the idea box and the faces after a workshop
    "lightbulb": 0xE0F0,
    "celebration": 0xEA65,
    "directions_bus": 0xE530,
    "palette": 0xE40A,
    "park": 0xEA63,
    "reply": 0xE15E,
    "volunteer_activism": 0xEA70,
    "sentiment_satisfied": 0xE813,
    "sentiment_neutral": 0xE812,
    "sentiment_dissatisfied": 0xE811,
}

#: One pictogram for each workshop theme of sync.protocol.THEMES.
THEME_ICONS = THEME_PICTOGRAMS


#: One pictogram for each idea theme of sync.protocol.IDEA_THEMES.
IDEA_THEME_ICONS = {
    "activites": "palette",
    "sorties": "directions_bus",
    "quartier": "park",
    "numerique": "devices",
    "famille": "family_restroom",
    "autre": "more_horiz",
}
#: The three faces of sync.protocol.FEEDBACK_FACES.
FACE_ICONS = {
    "content": "sentiment_satisfied",
    "moyen": "sentiment_neutral",
    "pas_content": "sentiment_dissatisfied",
}


def glyph(name: str) -> str:
    """The character drawing the icon ``name`` in ICON_FONT."""
    return chr(CODEPOINTS.get(name, CODEPOINTS["help"]))


def theme_glyph(theme: str) -> str:
    return glyph(THEME_ICONS.get(theme, "more_horiz"))
