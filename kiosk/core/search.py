"""The volunteers' member search: by name prefix, forgiving one typo, or by card.

Two small tables make it fast on 100,000 members (see docs/data-model.md):

- ``member_tokens (token, seen, member_id, names)``: one row per folded word
  of a member's names, keyed by token then recency, so a word's members come
  most recently seen first with no sort; ``seen`` is the member's last
  contact, so ranking needs no read of ``members``; ``names`` holds all the
  member's tokens, so the other words of a query are checked on the row.
- ``token_variants (variant, token)``: each distinct token with each of its
  one-letter deletions. A query within one edit (insertion, deletion,
  substitution, transposition) of a token's prefix shares a deletion with it,
  so a handful of index ranges find every typo candidate, which an exact
  edit distance then confirms (symmetric deletion, as in SymSpell).

Ranking: whole word before prefix before typo, summed over the query's words,
then most recently seen first. Each rank is read lazily in recency order (a
rank spanning several tokens as their rows merged, or the ``seen`` index
when a prefix is so short it matches thousands), so the first few results
cost a few index steps whatever the size of the register. Erased members
have no tokens, so they are never found.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

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
    return {token} | {token[:i] + token[i + 1 :] for i in range(len(token))}


def index_member(
    conn: sqlite3.Connection, member_id: str, first_name: str, last_name: str, seen: str
) -> None:
    """(Re)write a member's tokens; call inside the change's transaction."""
    unindex_member(conn, member_id)
    tokens = name_tokens(first_name, last_name)
    names = names_text(tokens)
    conn.executemany(
        "INSERT INTO member_tokens (token, seen, member_id, names) VALUES (?, ?, ?, ?)",
        [(token, seen, member_id, names) for token in tokens],
    )
    add_variants(conn, tokens)


def names_text(tokens: Iterable[str]) -> str:
    """``member_tokens.names``: a member's tokens between spaces, so that
    ' ' + word is found in it when one of them starts with the word."""
    return " " + " ".join(sorted(tokens)) + " "


def add_variants(conn: sqlite3.Connection, tokens: Iterable[str]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO token_variants (variant, token) VALUES (?, ?)",
        [(variant, token) for token in set(tokens) for variant in variants(token)],
    )


def unindex_member(conn: sqlite3.Connection, member_id: str) -> None:
    """Forget a member's tokens, and the variants of any token nobody else
    bears any more (a rare surname must not outlive its erasure)."""
    old = [
        row[0] for row in conn.execute("SELECT token FROM member_tokens WHERE member_id = ?", (member_id,))
    ]
    conn.execute("DELETE FROM member_tokens WHERE member_id = ?", (member_id,))
    for token in old:
        if conn.execute("SELECT 1 FROM member_tokens WHERE token = ? LIMIT 1", (token,)).fetchone() is None:
            conn.execute("DELETE FROM token_variants WHERE token = ?", (token,))


# ---------------------------------------------------------------- recency
#
# A check-in writes its visit and event only (the fewest B-trees in
# the durable transaction). The member's last contact (``members.last_seen_at``)
# and the search's recency (``member_tokens.seen``) are derived from visits:
# ``refresh_recency`` applies every visit past the ``recency.visits_applied``
# watermark (a visits rowid; visits are never deleted, erasure unlinks them,
# so rowids only grow), and runs before any read that uses them: the search,
# the retention purge, the member export. One member's last contact is read
# fresh without writing (``last_seen``).

_APPLIED = "SELECT visits_applied FROM recency"
_LAST_VISIT = "SELECT coalesce(max(rowid), 0) FROM visits"
_FRESH = (
    "SELECT member_id, max(occurred_at) AS at FROM visits "
    "WHERE rowid > ? AND rowid <= ? AND member_id IS NOT NULL GROUP BY member_id"
)


def refresh_recency(conn: sqlite3.Connection) -> int:
    """Apply the visits recorded since the last refresh to last_seen_at and
    the search's recency; returns how many visits. Costs two index look-ups
    when nothing is new. Joins the caller's transaction if one is open, else
    runs its own (a write)."""
    if conn.execute(_LAST_VISIT).fetchone()[0] == conn.execute(_APPLIED).fetchone()[0]:
        return 0
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        applied = conn.execute(_APPLIED).fetchone()[0]  # again: another connection may have done it
        last = conn.execute(_LAST_VISIT).fetchone()[0]
        if last != applied:
            # the latest contact wins, whatever order the visits were recorded in
            conn.execute(
                f"WITH fresh AS ({_FRESH}) UPDATE members SET last_seen_at = fresh.at FROM fresh "
                "WHERE members.id = fresh.member_id AND members.erased_at IS NULL "
                "AND (members.last_seen_at IS NULL OR members.last_seen_at < fresh.at)",
                (applied, last),
            )
            conn.execute(
                f"WITH fresh AS ({_FRESH}) UPDATE member_tokens SET seen = fresh.at FROM fresh "
                "WHERE member_tokens.member_id = fresh.member_id AND member_tokens.seen < fresh.at",
                (applied, last),
            )
            conn.execute("UPDATE recency SET visits_applied = ?", (last,))
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if own:
        conn.execute("COMMIT")
    return max(0, last - applied)


#: see last_seen (public for the test of its query plan)
LAST_SEEN_SINCE_APPLIED = (
    "SELECT max(occurred_at) FROM visits NOT INDEXED WHERE rowid > (" + _APPLIED + ") AND member_id = ?"
)


def last_seen(conn: sqlite3.Connection, member_id: str, stored: str | None) -> str | None:
    """A member's last contact, fresh: ``stored`` (their last_seen_at) or a
    visit not yet applied by ``refresh_recency``, whichever is later. A read
    only, of the visits past the watermark (a rowid range: the few recorded
    since the kiosk was last at rest). NOT INDEXED: else SQLite answers max()
    by walking the time index back from the newest visit, all of it for a
    member with no new visit."""
    newer = conn.execute(LAST_SEEN_SINCE_APPLIED, (member_id,)).fetchone()[0]
    if newer is None or (stored is not None and stored >= newer):
        return stored
    return newer


def mark_recency_applied(conn: sqlite3.Connection) -> None:
    """Every visit so far is already reflected (the demo's bulk writer computes
    last contacts itself); inside the caller's transaction."""
    conn.execute(f"UPDATE recency SET visits_applied = ({_LAST_VISIT})")


# ---------------------------------------------------------------- typo distance


def prefix_distance(query: str, token: str) -> int:
    """The fewest edits (insertion, deletion, substitution, swap of two
    neighbours) turning ``query`` into the start of ``token``: one
    optimal-string-alignment table, read at the prefixes of length n-1..n+1."""
    n = len(query)
    b = token[: n + 1]
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, n + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = query[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and query[i - 1] == b[j - 2] and query[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return min(previous[max(0, n - 1) : n + 2])


def typo_tokens(conn: sqlite3.Connection, word: str) -> list[str]:
    """Tokens whose start is exactly one edit from ``word`` (not those it
    already starts)."""
    if len(word) < TYPO_MIN_LENGTH:
        return []
    candidates: set[str] = set()
    for key in variants(word):
        candidates.update(
            row[0]
            for row in conn.execute(
                "SELECT token FROM token_variants WHERE variant >= ? AND variant < ?", (key, key + _TOP)
            )
        )
    return sorted(
        token for token in candidates if not token.startswith(word) and prefix_distance(word, token) <= 1
    )


# ---------------------------------------------------------------- the query
#
# member_tokens' primary key is (token, seen, member_id): one token's members
# are stored most recently seen first, so a word's rows come in recency order
# with no sort. A rank that spans several tokens (the prefix 'ma': marie,
# martin, maxime…; or a word's typo tokens) is one arm per token of a UNION
# ALL, which SQLite merges in recency order as it is read: the first few
# results cost a few steps, whatever the size of the register. The other
# words of the query are checked on the row itself (``names``: every token of
# its member), without a look-up per row.

#: A rank spanning more tokens than this (a one-letter prefix) is read as one
#: key range instead of an arm a token (SQLite's limit is 500 arms).
MERGE_AT_MOST = 64

#: Above this many rows, a key range is read by walking everyone in recency
#: order (the ``seen`` index) and keeping its rows, instead of all read and
#: sorted: the first few that match come quickly when the match is that common.
SORT_AT_MOST = 2000

#: Multi-word queries count each word's rows up to this many to pick the
#: rarest word, which drives; the others are checked on its rows.
SIZE_AT_MOST = 2000

_ROW = "SELECT member_id, seen, names FROM member_tokens"


def _capped_count(conn: sqlite3.Connection, where: str, params: list, cap: int) -> int:
    return conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM member_tokens WHERE {where} LIMIT {cap + 1})", params
    ).fetchone()[0]


class Word:
    """One word of a query, with the tokens it matches in each rank."""

    def __init__(self, conn: sqlite3.Connection, word: str):
        self.word = word
        self.typos = typo_tokens(conn, word)
        self._typo_set = set(self.typos)
        self._size: int | None = None
        # the tokens longer than the word that start with it, up to MERGE_AT_MOST + 1
        self.longer = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT token FROM token_variants WHERE token > ? AND token < ? ORDER BY token "
                f"LIMIT {MERGE_AT_MOST + 1}",
                (word, word + _TOP),
            )
        ]

    def tiers(self) -> list[tuple[int, list[str] | None, str, list[Any]]]:
        """(rank, its tokens or None when too many to list, SQL condition,
        parameters) from the best rank to the worst."""
        tiers: list[tuple[int, list[str] | None, str, list[Any]]] = [
            (EXACT, [self.word], "token = ?", [self.word])
        ]
        if self.longer:
            tokens = self.longer if len(self.longer) <= MERGE_AT_MOST else None
            tiers.append((PREFIX, tokens, "token > ? AND token < ?", [self.word, self.word + _TOP]))
        if self.typos:
            tokens = self.typos if len(self.typos) <= MERGE_AT_MOST else None
            tiers.append((TYPO, tokens, f"token IN ({','.join('?' * len(self.typos))})", list(self.typos)))
        return tiers

    def rank(self, token: str) -> int | None:
        if token == self.word:
            return EXACT
        if token.startswith(self.word):
            return PREFIX
        return TYPO if token in self._typo_set else None

    def best_rank(self, names: str) -> int:
        """This word's best rank among a member's tokens (``names``), which
        must bear a match for it (as every member ``ranked`` yields does)."""
        return min(rank for rank in map(self.rank, names.split()) if rank is not None)

    def size(self, conn: sqlite3.Connection) -> int:
        """Roughly how many rows match: the rarest word drives. Counting
        stops at SIZE_AT_MOST; a rank with more is guessed 2.5 times that."""
        if self._size is None:
            counts = [
                _capped_count(conn, where, params, SIZE_AT_MOST) for _r, _t, where, params in self.tiers()
            ]
            self._size = int(sum(count if count <= SIZE_AT_MOST else 2.5 * count for count in counts))
        return self._size

    def on_row(self) -> tuple[str, list]:
        """SQL that the row's member (its ``names``) bears a token matching
        this word: one starting with it, or one of its typo tokens."""
        sql = "instr(names, ?) > 0" + " OR instr(names, ?) > 0" * len(self.typos)
        return f" AND ({sql})", [" " + self.word, *(f" {token} " for token in self.typos)]


def _by_recency(
    conn: sqlite3.Connection,
    tokens: list[str] | None,
    where: str,
    params: list,
    also: str,
    also_params: list,
    may_walk: bool,
) -> Iterator[tuple[str, str, str]]:
    """(member_id, seen, names) of the rows matching ``where`` (the tokens
    listed, when they are) and ``also``, most recently seen first, read
    lazily. ``may_walk``: matches are common enough that walking everyone by
    recency meets the first few soon."""
    if tokens is not None:  # a token's rows are in recency order already: merged as read
        arm = f"{_ROW} WHERE token = ?{also}"
        sql = " UNION ALL ".join([arm] * len(tokens)) + " ORDER BY seen DESC"
        arguments = list(itertools.chain.from_iterable([token, *also_params] for token in tokens))
    else:
        walk = may_walk and _capped_count(conn, where, params, SORT_AT_MOST) > SORT_AT_MOST
        index = " INDEXED BY member_tokens_seen" if walk else ""
        sql = f"{_ROW}{index} WHERE ({where}){also} ORDER BY seen DESC"
        arguments = [*params, *also_params]
    yield from conn.execute(sql, arguments)


def ranked(
    conn: sqlite3.Connection, word: Word, others: Sequence[Word] = ()
) -> Iterator[tuple[int, str, str, str]]:
    """(rank, seen, member_id, names) of the members matching ``word`` (and
    bearing a match for each of ``others``), best first, each member once;
    lazy, so taking the first few reads little."""
    also, also_params = "", []
    for other in others:
        sql, params = other.on_row()
        also += sql
        also_params += params
    may_walk = not others or _dense(conn, [word, *others])
    found: set[str] = set()
    for rank, tokens, where, params in word.tiers():
        for member_id, seen, names in _by_recency(conn, tokens, where, params, also, also_params, may_walk):
            if member_id not in found:
                found.add(member_id)
                yield rank, seen, member_id, names


def _dense(conn: sqlite3.Connection, query_words: list[Word], limit: int = 8) -> bool:
    """Whether members matching every word are common enough that walking
    everyone by recency finds a few sooner than reading the rarest word's rows."""
    members = conn.execute("SELECT max(rowid) FROM members").fetchone()[0] or 1
    sizes = [word.size(conn) for word in query_words]
    share = 1.0
    for size in sizes:
        share *= min(1.0, size / members)
    rows_per_member = 2.5
    return limit * rows_per_member / max(share, 1e-9) < min(sizes)


def matching_ids(conn: sqlite3.Connection, query: str, limit: int) -> list[str]:
    """Ids of the members matching every word of ``query``, best first:
    whole word before prefix before typo, summed over the words, then the
    most recently seen."""
    terms = list(dict.fromkeys(words(query)))[:4]
    if not terms or limit < 1:
        return []
    query_words = [Word(conn, term) for term in terms]
    if len(query_words) == 1:
        return [member_id for _r, _s, member_id, _n in itertools.islice(ranked(conn, query_words[0]), limit)]
    query_words.sort(key=lambda word: word.size(conn))
    driver, others = query_words[0], query_words[1:]
    found = [
        (rank + sum(other.best_rank(names) for other in others), seen, member_id)
        for rank, seen, member_id, names in itertools.islice(ranked(conn, driver, others), limit)
    ]
    found.sort(key=lambda item: item[1], reverse=True)  # most recent first…
    found.sort(key=lambda item: item[0])  # …within each summed rank (the sort is stable)
    return [member_id for _r, _s, member_id in found]


def card_query(query: str) -> str | None:
    """The card code in ``query`` if it is one (checked), else None."""
    code = cards.normalise(query)
    return code if cards.is_valid(code) else None
