"""The arena's votes in SQLite: the pairs a server issued, and at most one vote on each.

A pair is two images for one prompt from two contenders, shown without their names.
Its id is 128 random bits (``secrets``) kept here, so a vote can only name a pair this
store issued, and only once: an unknown id is :class:`UnknownPair`, a second vote
:class:`AlreadyVoted`. Marking the pair and writing its vote happen in one transaction,
so a failure half-way leaves neither. Each pair keeps both contenders' settings and,
where the prompt is a world scene, the verifier's pass/fail for each image: the
verifier's own vote on the same pair, to compare with the people's.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pixeldrift.classroom.bradley_terry import OUTCOMES

MAX_SETTINGS_CHARS = 4096
PAIR_ID_BYTES = 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pairs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    prompt TEXT NOT NULL,
    seed INTEGER NOT NULL,
    left_name TEXT NOT NULL,
    right_name TEXT NOT NULL,
    left_settings TEXT NOT NULL,
    right_settings TEXT NOT NULL,
    left_pass INTEGER,
    right_pass INTEGER,
    voted INTEGER NOT NULL DEFAULT 0 CHECK (voted IN (0, 1))
);
CREATE TABLE IF NOT EXISTS votes (
    pair_id TEXT PRIMARY KEY REFERENCES pairs(id),
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right', 'tie')),
    created REAL NOT NULL
);
"""


class UnknownPair(LookupError):
    """A vote names a pair this store never issued."""


class AlreadyVoted(ValueError):
    """A vote names a pair that already has its vote."""


@dataclass(frozen=True)
class IssuedPair:
    id: str
    prompt: str
    seed: int
    left_name: str
    right_name: str
    left_pass: bool | None
    right_pass: bool | None

    def verifier_choice(self) -> str | None:
        """The verifier as judge: a pass beats a fail, two passes or two fails tie; None where it cannot read."""
        if self.left_pass is None or self.right_pass is None:
            return None
        return "tie" if self.left_pass == self.right_pass else ("left" if self.left_pass else "right")


class ArenaStore:
    """One SQLite file; safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys = ON")
        with self._db:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def issue(self, prompt: str, seed: int, left: tuple[str, dict], right: tuple[str, dict],
              passes: tuple[bool | None, bool | None] = (None, None)) -> str:
        """Store a new pair and return its id; `left` and `right` are (name, settings)."""
        texts = [json.dumps(settings, sort_keys=True) for _, settings in (left, right)]
        if any(len(text) > MAX_SETTINGS_CHARS for text in texts):
            raise ValueError(f"contender settings over {MAX_SETTINGS_CHARS} characters of JSON")
        pair_id = secrets.token_urlsafe(PAIR_ID_BYTES)
        flags = [None if p is None else int(bool(p)) for p in passes]
        with self._lock, self._db:
            self._db.execute("INSERT INTO pairs (id, created, prompt, seed, left_name, right_name, left_settings, "
                             "right_settings, left_pass, right_pass) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (pair_id, time.time(), prompt, seed, left[0], right[0], *texts, *flags))
        return pair_id

    def pair(self, pair_id: str) -> IssuedPair:
        with self._lock:
            row = self._db.execute("SELECT id, prompt, seed, left_name, right_name, left_pass, right_pass "
                                   "FROM pairs WHERE id = ?", (pair_id,)).fetchone()
        if row is None:
            raise UnknownPair(f"no pair {pair_id!r} was issued by this arena")
        return _issued(row)

    def vote(self, pair_id: str, choice: str) -> IssuedPair:
        """Record the one vote on a pair; UnknownPair, AlreadyVoted or ValueError (a bad choice) otherwise."""
        if choice not in OUTCOMES:
            raise ValueError(f"choice {choice!r}; accepted: {', '.join(OUTCOMES)}")
        if not isinstance(pair_id, str) or not pair_id:
            raise UnknownPair(f"no pair {pair_id!r} was issued by this arena")
        with self._lock:
            self._record(pair_id, choice)
        return self.pair(pair_id)

    def _record(self, pair_id: str, choice: str) -> None:
        with self._db:  # one transaction: the pair marked voted and its vote written, or neither
            marked = self._db.execute("UPDATE pairs SET voted = 1 WHERE id = ? AND voted = 0", (pair_id,)).rowcount
            if not marked:
                known = self._db.execute("SELECT 1 FROM pairs WHERE id = ?", (pair_id,)).fetchone()
                if known is None:
                    raise UnknownPair(f"no pair {pair_id!r} was issued by this arena")
                raise AlreadyVoted(f"pair {pair_id!r} already has its vote; each pair is voted on once")
            self._db.execute("INSERT INTO votes (pair_id, choice, created) VALUES (?, ?, ?)",
                             (pair_id, choice, time.time()))

    def human_votes(self) -> list[tuple[IssuedPair, str]]:
        """Every voted pair with its vote, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT p.id, p.prompt, p.seed, p.left_name, p.right_name, p.left_pass, "
                                    "p.right_pass, v.choice FROM votes v JOIN pairs p ON p.id = v.pair_id "
                                    "ORDER BY v.created, p.id").fetchall()
        return [(_issued(row[:7]), row[7]) for row in rows]

    def issued_pairs(self) -> list[IssuedPair]:
        """Every pair issued, voted on or not, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, prompt, seed, left_name, right_name, left_pass, right_pass "
                                    "FROM pairs ORDER BY created, id").fetchall()
        return [_issued(row) for row in rows]


def _issued(row) -> IssuedPair:
    flag = lambda v: None if v is None else bool(v)
    return IssuedPair(row[0], row[1], row[2], row[3], row[4], flag(row[5]), flag(row[6]))


@dataclass(frozen=True)
class Agreement:
    """How often people and the verifier chose alike on the pairs both judged."""

    pairs: int
    agree: int
    decisive_pairs: int     # pairs where the verifier saw one pass and one fail
    decisive_agree: int

    @property
    def rate(self) -> float | None:
        return self.agree / self.pairs if self.pairs else None

    @property
    def decisive_rate(self) -> float | None:
        return self.decisive_agree / self.decisive_pairs if self.decisive_pairs else None


def agreement(voted: list[tuple[IssuedPair, str]]) -> Agreement:
    """Compare each human vote with the verifier's choice on the same two images (where it could read them)."""
    judged = [(pair.verifier_choice(), choice) for pair, choice in voted if pair.verifier_choice() is not None]
    decisive = [(v, h) for v, h in judged if v != "tie"]
    return Agreement(len(judged), sum(v == h for v, h in judged), len(decisive), sum(v == h for v, h in decisive))
