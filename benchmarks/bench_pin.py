"""How long PIN entry takes: one scrypt hash at the kiosk's cost, and
``Staff.authenticate`` with more and more active people (it tries the PIN
against each one's hash, so the worst case is the last person's PIN or a wrong
one). Baseline: one scrypt hash at n=2**14 in the same run.

    python benchmarks/bench_pin.py [--runs 7]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import median_ms

from kiosk.core.errors import InvalidInput
from kiosk.core.staff import Staff
from kiosk.core.store import Store


def scrypt_once(n: int) -> None:
    hashlib.scrypt(b"2468", salt=os.urandom(16), n=n, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    baseline = median_ms(lambda: scrypt_once(2**14), args.runs)
    print(f"scrypt n=2**14 r=8 p=1 (baseline): {baseline:.1f} ms median of {args.runs}")
    for n in (2**13, 2**15):
        cost = median_ms(lambda n=n: scrypt_once(n), args.runs)
        print(f"scrypt n=2**{n.bit_length() - 1}: {cost:.1f} ms  ratio {cost / baseline:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        with Store.open(Path(tmp) / "kiosk.db") as store:
            staff = Staff(store)
            people = 0
            for target in (1, 5, 10, 20):
                while people < target:
                    people += 1
                    staff.add(f"Personne {people}", "volunteer", f"{1000 + people:04d}")
                last_pin = f"{1000 + people:04d}"
                worst = median_ms(lambda pin=last_pin: staff.authenticate(pin), args.runs)
                print(
                    f"authenticate, {people:2d} active people, last one's PIN: {worst:7.1f} ms"
                    f"  ratio {worst / baseline:.1f}"
                )

                def wrong(last_pin: str = last_pin) -> None:
                    try:
                        staff.authenticate("0000")
                    except InvalidInput:
                        pass
                    staff.authenticate(last_pin)  # reset the counter: no lockout while measuring

                print(
                    f"wrong PIN then right PIN, {people:2d} people:           {median_ms(wrong, 3):7.1f} ms"
                )


if __name__ == "__main__":
    main()
