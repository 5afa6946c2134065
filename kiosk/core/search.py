"""The volunteers' member search: by name prefix, forgiving one typo, or by card.

Two small tables make it fast on 100,000 members (see docs/data-model.md):

- ``member_tokens (token, member_id, seen)``: one row per folded word of a
  member's names, keyed by token, so a prefix is one index range; ``seen``
  is the member's last contact, so ranking needs no read of ``members``.
- ``token_variants (variant, token)``: each distinct token with each of its
  one-letter deletions. A query within one edit (insertion, deletion,
  substitution, transposition) of a token's prefix shares a deletion with it,
  so a handful of index ranges find every typo candidate, which an exact
  edit distance then confirms (symmetric deletion, as in SymSpell).

Ranking: whole word before prefix before typo, summed over the query's words,
then most recently seen first. Erased members have no tokens, so they are
never found.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from kiosk.core import cards
from kiosk.core.text import name_tokens, words

#: Typos are forgiven from this many letters: on shorter words one edit
#: matches half the register and helps nobody.
TYPO_MIN_LENGTH = 4
_TOP = "\U0010ffff"  # sorts after every character: w <= token < w + _TOP is "starts with w"

EXACT, PREFIX, TYPO = 0, 1, 2


# ---------------------------------------------------------------- the index


def variants(token: str) -> set[str]:
    """The token and every way of deleting one of its letters."""
    return {token} | {token[:i] + token[i + 1:] for i in range(len(token))}


def index_member(conn: sqlite3.Connection, member_id: str, first_name: str, last_name: str,
                 seen: str) -> None:
    """(Re)write a member's tokens; call inside the change's transaction."""
    unindex_member(conn, member_id)
    tokens = name_tokens(first_name, last_name)
    conn.executemany("INSERT INTO member_tokens (token, member_id, seen) VALUES (?, ?, ?)",
                     [(token, member_id, seen) for token in tokens])
    add_variants(conn, tokens)


def add_variants(conn: sqlite3.Connection, tokens: Iterable[str]) -> None:
    conn.executemany("INSERT OR IGNORE INTO token_variants (variant, token) VALUES (?, ?)",
                     [(variant, token) for token in set(tokens) for variant in variants(token)])


def unindex_member(conn: sqlite3.Connection, member_id: str) -> None:
    """Forget a member's tokens, and the variants of any token nobody else
    bears any more (a rare surname must not outlive its erasure)."""
    old = [row[0] for row in conn.execute(
        "SELECT token FROM member_tokens WHERE member_id = ?", (member_id,))]
    conn.execute("DELETE FROM member_tokens WHERE member_id = ?", (member_id,))
    for token in old:
        if conn.execute("SELECT 1 FROM member_tokens WHERE token = ? LIMIT 1", (token,)).fetchone() is None:
            conn.execute("DELETE FROM token_variants WHERE token = ?", (token,))


def touch(conn: sqlite3.Connection, member_id: str, seen: str) -> None:
    """Record a contact, so the member ranks as recently seen."""
    conn.execute("UPDATE member_tokens SET seen = ? WHERE member_id = ?", (seen, member_id))


# ---------------------------------------------------------------- typo distance


def osa_distance(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def prefix_distance(query: str, token: str) -> int:
    """The fewest edits turning ``query`` into the start of ``token``."""
    n = len(query)
    return min(osa_distance(query, token[:length]) for length in {n - 1, n, n + 1} if length > 0)


def typo_tokens(conn: sqlite3.Connection, word: str) -> list[str]:
    """Tokens whose start is exactly one edit from ``word`` (not those it
    already starts)."""
    if len(word) < TYPO_MIN_LENGTH:
        return []
    candidates: set[str] = set()
    for key in variants(word):
        candidates.update(row[0] for row in conn.execute(
            "SELECT token FROM token_variants WHERE variant >= ? AND variant < ?", (key, key + _TOP)))
    return sorted(token for token in candidates
                  if not token.startswith(word) and prefix_distance(word, token) <= 1)


# ---------------------------------------------------------------- the query


def _word_clause(alias: str, word: str, typos: list[str]) -> tuple[str, str, list]:
    """SQL for one query word: (match condition, rank expression, parameters)."""
    typo_marks = ",".join("?" * len(typos))
    match = f"({alias}.token >= ? AND {alias}.token < ?" + (
        f" OR {alias}.token IN ({typo_marks}))" if typos else ")")
    rank = (f"CASE WHEN {alias}.token = ? THEN {EXACT} "
            f"WHEN {alias}.token >= ? AND {alias}.token < ? THEN {PREFIX} ELSE {TYPO} END")
    return match, rank, [word, word + _TOP, *typos]


def matching_ids(conn: sqlite3.Connection, query: str, limit: int) -> list[str]:
    """Ids of the members matching every word of ``query``, best first."""
    terms = words(query)[:4]
    if not terms:
        return []
    terms.sort(key=len, reverse=True)  # the longest word drives: it matches least
    clauses = [_word_clause(f"t{i}", word, typo_tokens(conn, word)) for i, word in enumerate(terms)]
    match, rank, params = clauses[0]
    select_params = [terms[0], terms[0], terms[0] + _TOP]
    ranks = [f"min({rank})"]
    where = [match]
    where_params = list(params)
    for i, (other_match, other_rank, other_params) in enumerate(clauses[1:], start=1):
        ranks.append(f"(SELECT min({other_rank}) FROM member_tokens t{i} "
                     f"WHERE t{i}.member_id = t0.member_id AND {other_match})")
        select_params += [terms[i], terms[i], terms[i] + _TOP, *other_params]
    sql = (f"SELECT member_id, {' + '.join(ranks)} AS score, max(t0.seen) AS seen "
           f"FROM member_tokens t0 WHERE {' AND '.join(where)} GROUP BY t0.member_id "
           f"HAVING score IS NOT NULL ORDER BY score, seen DESC LIMIT ?")
    rows = conn.execute(sql, [*select_params, *where_params, limit]).fetchall()
    return [row[0] for row in rows]


def card_query(query: str) -> str | None:
    """The card code in ``query`` if it is one (checked), else None."""
    code = cards.normalise(query)
    return code if cards.is_valid(code) else None
