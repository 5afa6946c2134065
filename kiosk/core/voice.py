"""The residents' voice: the idea box, and « Comment ça s'est passé ? »
after a workshop.

An idea is a theme (a pictogram: ``IDEA_THEMES``) and, if the resident
wants, a few words typed on the kiosk. It names nobody unless the resident
chooses to leave a contact — a member card, or a first name and a phone —
after reading the consent sentence (``CONTACT_CONSENT``). Staff read the
ideas, answer them in a short public sentence, mark those the centre carried
out (« réalisée »: the answer shows on the kiosk's home for ``SHOWN_DAYS``)
and those that became an initiative of residents the centre supports.

A face is one of ``FEEDBACK_FACES`` about one session, from a member who
was present: once a person and session (a unique index), asked on the
check-in's confirmation for the last session attended since the member's
previous visit, or handed round at the end of the roll call.

What reaches the hub is counts only (sync/protocol.py, 1.2): an idea's
theme and the dates of its answer, realisation and support; a session's
faces. Never an idea's words, its answer, nor who gave it. A contact given
with an idea is erased with the member (``forget_member``) or, for a
contact without a card, by the retention purge (``forget_contacts_before``).

Like the other services, every change is one transaction with its event.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Any

from kiosk.core import text
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.staff import check_actor
from kiosk.core.store import Store
from sync.protocol import FEEDBACK_FACES, IDEA_THEMES, new_id, parse_utc, utc_iso, utc_text

#: the longest idea and answer, in characters (the tables check them too)
MAX_IDEA = 500
MAX_ANSWER = 300
#: how long a realised idea's answer stays on the kiosk's home
SHOWN_DAYS = 30
#: a session ended longer ago than this is no longer asked about at check-in
ASK_WITHIN = timedelta(days=30)
#: the sentence a resident reads before leaving a contact with an idea
CONTACT_CONSENT = N_(
    "Je donne mon prénom pour que l'équipe puisse me répondre. "
    "Il reste dans le centre, il n'est jamais envoyé ailleurs, "
    "et il est effacé avec mes données."
)
#: the ways a face is given
VIA = ("checkin", "roll_call")


def clean_text(field: str, value: Any, max_len: int, required: bool) -> str:
    """Words typed by someone: stripped, at most ``max_len`` characters, no
    invisible control character (line breaks allowed)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(field, N_("Ce texte n'est pas valide."), "must be a text", value=value)
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise InvalidInput(field, N_("Écrivez quelques mots."), "must not be empty", value=value)
    if len(value) > max_len:
        raise InvalidInput(
            field,
            N_("Texte trop long (%(max)d caractères au plus)."),
            f"must be at most {max_len} characters",
            value=value,
            max=max_len,
        )
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c != "\n" for c in value):
        raise InvalidInput(
            field,
            N_("Ce texte contient des caractères invalides."),
            "must not contain control characters",
            value=value,
        )
    return value


def _theme(value: Any) -> str:
    if value not in IDEA_THEMES:
        raise InvalidInput(
            "theme",
            N_("Choisissez un sujet pour votre idée."),
            f"must be one of {', '.join(IDEA_THEMES)}",
            value=value,
        )
    return value


def _face(value: Any) -> str:
    if value not in FEEDBACK_FACES:
        raise InvalidInput(
            "face",
            N_("Touchez un des trois visages."),
            f"must be one of {', '.join(FEEDBACK_FACES)}",
            value=value,
        )
    return value


class Voice:
    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------ ideas

    def propose(
        self,
        theme: str,
        words: str = "",
        first_name: str | None = None,
        phone: str | None = None,
        member_id: str | None = None,
        consent: bool = False,
    ) -> dict:
        """A resident's idea: a theme, words if they typed any, and a contact
        only if they chose to leave one — a member (found by their card) or
        a first name with a phone — with ``consent`` True. Anonymous by
        default. Returns the idea."""
        theme = _theme(theme)
        words = clean_text("text", words, MAX_IDEA, required=False)
        first = text.clean_name("first_name", first_name) if first_name else None
        number = text.clean_phone(phone) if phone else None
        if (first or number) and member_id is None and not (first and number):
            field = "phone" if first else "first_name"
            raise InvalidInput(
                field,
                N_("Pour qu'on vous réponde, donnez votre prénom et votre téléphone, ou votre carte."),
                "a contact is a first name with a phone, or a member card",
            )
        contact = bool(first or number or member_id)
        if contact and consent is not True:
            raise InvalidInput(
                "consent",
                N_("Pour laisser votre prénom, touchez « J'accepte »."),
                "a contact needs the resident's consent",
                value=consent,
            )
        store = self.store
        now = store.now_iso()
        idea = {
            "id": new_id(),
            "created_at": now,
            "theme": theme,
            "text": words,
            "contact_first_name": first,
            "contact_phone": number,
            "member_id": member_id,
            "contact_consent_at": now if contact else None,
            "updated_at": now,
        }
        with store.transaction():
            if member_id is not None:
                member = store.one(
                    "SELECT first_name FROM members WHERE id = ? AND erased_at IS NULL", (member_id,)
                )
                if member is None:
                    raise NotFound(
                        "member_id",
                        N_("Nous ne trouvons pas cette personne. Demandez à l'accueil."),
                        f"no member {member_id!r}",
                        value=member_id,
                    )
                idea["contact_first_name"] = idea["contact_first_name"] or member["first_name"]
            store.db.table("ideas").insert(idea)
            store.emit("idea.received", {"idea_id": idea["id"], "theme": theme})
        return self.idea(str(idea["id"]))

    def idea(self, idea_id: str) -> dict:
        row = self.store.one("SELECT * FROM ideas WHERE id = ?", (idea_id,))
        if row is None:
            raise NotFound("idea_id", N_("Cette idée n'existe plus."), f"no idea {idea_id!r}", value=idea_id)
        return row

    def ideas(self, which: str = "all", limit: int = 200) -> list[dict]:
        """Ideas newest first: "all", "open" (not answered yet), "done" or
        "initiative". For staff: they hold the words and any contact."""
        where = {
            "all": "1",
            "open": "answered_at IS NULL",
            "done": "done_at IS NOT NULL",
            "initiative": "initiative_at IS NOT NULL",
        }.get(which)
        if where is None:
            raise InvalidInput("which", N_("Ce choix n'existe pas."), f"unknown list {which!r}", value=which)
        return self.store.query(
            f"SELECT * FROM ideas WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (max(1, min(int(limit), 1000)),),
        )

    def counts(self) -> dict[str, int]:
        """The staff screen's summary: ideas held, waiting for an answer, done, initiatives."""
        row = self.store.one(
            "SELECT count(*) AS all_, count(*) - count(answered_at) AS open_, count(done_at) AS done, "
            "count(initiative_at) AS initiative FROM ideas"
        )
        assert row is not None
        return {
            "all": row["all_"],
            "open": row["open_"],
            "done": row["done"],
            "initiative": row["initiative"],
        }

    def _staff(self, actor: dict | None) -> dict:
        row = check_actor(self.store, actor)
        if row is None or row["role"] != "staff":
            raise InvalidInput(
                "actor",
                N_("Seule l'équipe salariée lit et répond aux idées."),
                "ideas are read and answered by staff",
                value=actor,
            )
        return row

    def _change(self, idea_id: str, actor: dict | None, action: str, **changes: Any) -> dict:
        """Apply ``changes`` to an idea (staff only) with its idea.updated
        event, which carries the idea's whole state: the latest one wins."""
        store = self.store
        with store.transaction():
            self._staff(actor)
            idea = self.idea(idea_id)
            idea.update(changes, updated_at=store.now_iso())
            store.db.table("ideas").update(idea_id, {**changes, "updated_at": idea["updated_at"]})
            store.emit(
                "idea.updated",
                {
                    "idea_id": idea_id,
                    "theme": idea["theme"],
                    "answered_at": idea["answered_at"],
                    "done_at": idea["done_at"],
                    "initiative_at": idea["initiative_at"],
                },
            )
            store.audit(actor, action, idea_id=idea_id, **{k: v for k, v in changes.items() if k != "answer"})
        return idea

    def answer(self, idea_id: str, words: str, actor: dict | None) -> dict:
        """Staff's short public answer (it may show on the kiosk's home):
        answering again replaces it, keeping the first answer's date."""
        words = clean_text("answer", words, MAX_ANSWER, required=True)
        idea = self.idea(idea_id)
        return self._change(
            idea_id,
            actor,
            "idea.answer",
            answer=words,
            answered_at=idea["answered_at"] or self.store.now_iso(),
        )

    def mark_done(self, idea_id: str, actor: dict | None, done: bool = True) -> dict:
        """« Réalisée » (or not, to undo a slip). A realised idea needs its
        answer first: the home shows that answer, never the idea's words."""
        idea = self.idea(idea_id)
        if done and not idea["answer"]:
            raise Conflict(
                "answer",
                N_("Écrivez d'abord la réponse : c'est elle qui s'affiche sur la borne."),
                "a realised idea needs its answer first",
                value=idea_id,
            )
        when = (idea["done_at"] or self.store.now_iso()) if done else None
        return self._change(idea_id, actor, "idea.done", done_at=when)

    def mark_initiative(self, idea_id: str, actor: dict | None, supported: bool = True) -> dict:
        """The idea became an initiative of residents that the centre supports (or not, to undo)."""
        idea = self.idea(idea_id)
        when = (idea["initiative_at"] or self.store.now_iso()) if supported else None
        return self._change(idea_id, actor, "idea.initiative", initiative_at=when)

    def done_lately(self, limit: int = 3) -> list[dict]:
        """What the kiosk's home shows: the answers of ideas realised in the
        last SHOWN_DAYS, newest first (theme and answer only)."""
        since = utc_iso(self.store.now() - timedelta(days=SHOWN_DAYS))
        return self.store.query(
            "SELECT id, theme, answer, done_at FROM ideas WHERE done_at >= ? AND answer IS NOT NULL "
            "ORDER BY done_at DESC LIMIT ?",
            (since, limit),
        )

    # ------------------------------------------------------------ privacy

    def forget_member(self, member_id: str) -> None:
        """An erased member's contact on their ideas goes (inside the
        erasure's transaction); the ideas stay, naming nobody."""
        self.store.conn.execute(
            "UPDATE ideas SET contact_first_name = NULL, contact_phone = NULL, member_id = NULL, "
            "contact_consent_at = NULL WHERE member_id = ?",
            (member_id,),
        )

    def forget_contacts_before(self, cutoff: str) -> int:
        """Contacts left with ideas received before ``cutoff`` (the retention
        period), inside the caller's transaction; returns how many ideas."""
        return self.store.conn.execute(
            "UPDATE ideas SET contact_first_name = NULL, contact_phone = NULL, member_id = NULL, "
            "contact_consent_at = NULL WHERE created_at < ? AND contact_consent_at IS NOT NULL",
            (cutoff,),
        ).rowcount

    def member_ideas(self, member_id: str) -> list[dict]:
        """The ideas a member left their card with (the right of access)."""
        return self.store.query(
            "SELECT id, created_at, theme, text, answer, answered_at, done_at, initiative_at "
            "FROM ideas WHERE member_id = ? ORDER BY created_at",
            (member_id,),
        )

    # ------------------------------------------------------------ faces

    def pending_feedback(self, member_id: str, since: str | None) -> dict | None:
        """The session to ask « Comment ça s'est passé ? » about at a
        check-in: the last one the member was present at that ended after
        ``since`` (their previous visit; None: never came) and within
        ASK_WITHIN, not cancelled, not answered yet. None: nothing to ask."""
        now = self.store.now()
        floor = utc_iso(now - ASK_WITHIN)
        since = None if since is None else utc_text(since)
        if since is not None and since > floor:
            floor = since
        # read from the sessions of the window (their start index: a session
        # lasts at most a day), each looked up in attendance by (session,
        # member): a check-in never scans the attendance of every year
        return self.store.one(
            "SELECT s.id AS session_id, w.title, w.theme, s.starts_at, s.ends_at "
            "FROM sessions s CROSS JOIN attendance a ON a.session_id = s.id AND a.member_id = :member "
            "JOIN workshops w ON w.id = s.workshop_id "
            "WHERE s.starts_at > :earliest AND s.starts_at <= :now AND s.ends_at > :floor "
            "AND s.ends_at <= :now AND s.cancelled_at IS NULL AND a.present = 1 "
            "AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.session_id = s.id AND f.member_id = :member) "
            "ORDER BY s.ends_at DESC LIMIT 1",
            {
                "member": member_id,
                "floor": floor,
                "earliest": utc_iso(parse_utc(floor) - timedelta(days=1)),
                "now": utc_iso(now),
            },
        )

    def give_feedback(
        self, session_id: str, face: str, member_id: str | None = None, via: str = "checkin"
    ) -> dict:
        """One person's face about a session they were present at: a member
        (once a session), or someone who came without a name (at the roll
        call, at most as many as such walk-ins were present)."""
        face = _face(face)
        if via not in VIA:
            raise InvalidInput("via", N_("Ce choix n'existe pas."), f"must be one of {VIA}", value=via)
        store = self.store
        with store.transaction():
            session = store.one(
                "SELECT id, ends_at, starts_at, cancelled_at FROM sessions WHERE id = ?", (session_id,)
            )
            if session is None or session["cancelled_at"]:
                raise NotFound(
                    "session_id",
                    N_("Cet atelier n'existe plus."),
                    f"no session {session_id!r} held",
                    value=session_id,
                )
            if parse_utc(session["starts_at"]) > store.now():
                raise Conflict(
                    "session_id",
                    N_("Cet atelier n'a pas encore commencé."),
                    "the session has not started yet",
                    value=session_id,
                )
            self._check_who(session_id, member_id)
            row = {
                "id": new_id(),
                "session_id": session_id,
                "member_id": member_id,
                "face": face,
                "via": via,
                "given_at": store.now_iso(),
            }
            store.db.table("feedback").insert(row)
            store.emit("feedback.given", {"feedback_id": row["id"], "session_id": session_id, "face": face})
        return row

    def _check_who(self, session_id: str, member_id: str | None) -> None:
        conn = self.store.conn
        if member_id is not None:
            present = conn.execute(
                "SELECT 1 FROM attendance WHERE session_id = ? AND member_id = ? AND present = 1",
                (session_id, member_id),
            ).fetchone()
            if present is None:
                raise Conflict(
                    "member_id",
                    N_("Cette personne n'était pas à cet atelier."),
                    "member was not present at this session",
                    value=member_id,
                )
            if conn.execute(
                "SELECT 1 FROM feedback WHERE session_id = ? AND member_id = ?", (session_id, member_id)
            ).fetchone():
                raise Conflict(
                    "member_id",
                    N_("Vous avez déjà répondu pour cet atelier. Merci !"),
                    "member already gave a face for this session",
                    value=member_id,
                )
            return
        if self._anonymous_left(session_id) <= 0:
            raise Conflict(
                "member_id",
                N_("Tout le monde a déjà répondu pour cet atelier. Merci !"),
                "no one without a name is left to answer for this session",
                value=session_id,
            )

    def _anonymous_left(self, session_id: str) -> int:
        """Present walk-ins without a name, less the faces given without one."""
        conn = self.store.conn
        present = conn.execute(
            "SELECT count(*) FROM attendance WHERE session_id = ? AND member_id IS NULL AND present = 1",
            (session_id,),
        ).fetchone()[0]
        given = conn.execute(
            "SELECT count(*) FROM feedback WHERE session_id = ? AND member_id IS NULL", (session_id,)
        ).fetchone()[0]
        return present - given

    def still_to_answer(self, session_id: str) -> dict:
        """The roll call's end: the members present who have not answered yet
        (first name, last name's initial), and how many present without a name
        still may."""
        members = self.store.query(
            "SELECT m.id, m.first_name, m.last_name FROM attendance a JOIN members m ON m.id = a.member_id "
            "WHERE a.session_id = ? AND a.present = 1 AND m.erased_at IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM feedback f WHERE f.session_id = a.session_id AND f.member_id = a.member_id) "
            "ORDER BY m.first_name, m.last_name",
            (session_id,),
        )
        return {"members": members, "anonymous": max(0, self._anonymous_left(session_id))}

    def faces(self, session_id: str) -> dict[str, int]:
        """A session's faces so far, every face listed."""
        counts = dict.fromkeys(FEEDBACK_FACES, 0)
        for row in self.store.query(
            "SELECT face, count(*) AS n FROM feedback WHERE session_id = ? GROUP BY face", (session_id,)
        ):
            counts[row["face"]] = row["n"]
        return counts
