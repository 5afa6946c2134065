#!/usr/bin/env bash
# Redraw the guides' screenshots (docs/images/*.png) with `kiosk screenshot`
# on a fresh demo centre, offscreen (no display needed), then one contact
# sheet a language (docs/images/contact-fr.png, -en, -ar): every screen at
# every display size of docs/ui.md, labelled, for looking at them all at once.
#   docs/make-screenshots.sh [path/to/kiosk] [path/to/python]
set -euo pipefail

KIOSK=${1:-kiosk}
PYTHON=${2:-python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# the displays of docs/ui.md: size and density (the higher end of its range)
DISPLAYS=(800x480@133 1024x600@170 1280x720@210 720x1280@210 1280x800@150 1920x1080@150 1080x1920@100)

"$KIOSK" demo --db "$WORK/demo.db" --members 60 --visits 200 >/dev/null
for screen in home checkin reason confirmation workshops workshop first_visit consent card ideas pin \
              volunteer staff_home staff_sync staff_exports staff_privacy; do
    "$KIOSK" screenshot --db "$WORK/demo.db" --screen "$screen" --out "$HERE/images/$screen.png" >/dev/null
done
"$KIOSK" screenshot --db "$WORK/demo.db" --screen home --lang ar --out "$HERE/images/home-ar.png" >/dev/null

for display in "${DISPLAYS[@]}"; do
    "$KIOSK" screenshot --db "$WORK/demo.db" --screen all --lang fr,en,ar \
        --size "${display%@*}" --dpi "${display#*@}" --out "$WORK/shots" >/dev/null
done

"$PYTHON" - "$WORK/shots" "$HERE/images" "${DISPLAYS[@]}" <<'EOF'
"""Contact sheets: a row a screen, a column a display, each picture scaled to
one height and labelled; palette PNGs so the three stay a few MB in all."""
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from kiosk.ui import SCREENS

shots, out, displays = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
HEIGHT, GAP, LABEL, HEAD = 150, 12, 22, 40
try:
    from kiosk.ui.theme import TEXT_FONT

    font = ImageFont.truetype(TEXT_FONT, 15)
except OSError:
    font = ImageFont.load_default()
for lang in ("fr", "en", "ar"):
    shown = {p.name.split("-")[0] for p in shots.glob(f"*-{lang}.png")}
    screens = [name for name, _target in SCREENS if name in shown]
    widths = [round(HEIGHT * int(d.split("@")[0].split("x")[0]) / int(d.split("@")[0].split("x")[1]))
              for d in displays]
    columns = [max(width, 110) for width in widths]  # a portrait picture is narrower than its label
    sheet_w = 170 + sum(columns) + GAP * len(columns)
    sheet_h = HEAD + len(screens) * (HEIGHT + LABEL)
    sheet = Image.new("RGB", (sheet_w, sheet_h), "white")
    draw = ImageDraw.Draw(sheet)
    x = 170
    for display, column in zip(displays, columns):
        size, dpi = display.split("@")
        draw.text((x, 2), f"{size}\n{dpi} dpi", fill="black", font=font)
        x += column + GAP
    for row, screen in enumerate(screens):
        y = HEAD + row * (HEIGHT + LABEL)
        draw.text((4, y + HEIGHT // 2), screen, fill="black", font=font)
        x = 170
        for display, width, column in zip(displays, widths, columns):
            picture = shots / f"{screen}-{display.split('@')[0]}-{lang}.png"
            if picture.exists():
                with Image.open(picture) as image:
                    sheet.paste(image.convert("RGB").resize((width, HEIGHT), Image.LANCZOS), (x, y))
            draw.rectangle((x - 1, y - 1, x + width, y + HEIGHT), outline="#888888")
            x += column + GAP
    target = out / f"contact-{lang}.png"
    sheet.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(target, f"{target.stat().st_size // 1024} KB")
EOF
ls "$HERE/images"
