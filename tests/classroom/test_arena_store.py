"""The arena's SQLite votes: only pairs it issued, once each, written in one transaction."""

from __future__ import annotations

import sqlite3

import pytest

from pixeldrift.classroom.arena_store import AlreadyVoted, ArenaStore, UnknownPair, agreement


@pytest.fixture
def store(tmp_path):
    s = ArenaStore(tmp_path / "arena.sqlite")
    yield s
    s.close()


def issue(store, passes=(None, None)) -> str:
    return store.issue("two stars", 3, ("fast", {"steps": 4}), ("slow", {"steps": 20}), passes)


def test_a_vote_on_an_issued_pair_is_kept_with_its_settings(store, tmp_path):
    pair_id = issue(store, (True, False))
    pair = store.vote(pair_id, "right")
    assert (pair.left_name, pair.right_name, pair.prompt, pair.seed) == ("fast", "slow", "two stars", 3)
    store.close()
    reopened = ArenaStore(tmp_path / "arena.sqlite")
    (kept, choice), = reopened.human_votes()
    assert (kept.id, choice, kept.verifier_choice()) == (pair_id, "right", "left")
    settings = reopened._db.execute("SELECT left_settings FROM pairs").fetchone()[0]
    assert '"steps": 4' in settings
    reopened.close()


def test_duplicate_and_forged_votes_are_refused(store):
    pair_id = issue(store)
    store.vote(pair_id, "tie")
    with pytest.raises(AlreadyVoted):
        store.vote(pair_id, "left")
    for forged in (pair_id[:-1] + ("A" if pair_id[-1] != "A" else "B"), "", "x" * 40):
        with pytest.raises(UnknownPair):
            store.vote(forged, "left")
    with pytest.raises(ValueError, match="choice 'up'"):
        store.vote(issue(store), "up")
    assert [choice for _, choice in store.human_votes()] == ["tie"]


def test_pair_ids_are_random_and_unguessable(store):
    ids = {issue(store) for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 22 for i in ids)


def test_a_vote_that_fails_half_way_leaves_the_pair_open(store):
    """Marking the pair and writing the vote are one transaction: a failed write marks nothing."""
    pair_id = issue(store)
    store._db.execute("CREATE TRIGGER refuse BEFORE INSERT ON votes BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        store.vote(pair_id, "left")
    assert store._db.execute("SELECT voted FROM pairs WHERE id = ?", (pair_id,)).fetchone() == (0,)
    store._db.execute("DROP TRIGGER refuse")
    assert store.vote(pair_id, "left").id == pair_id  # still open: the vote goes in now
    assert len(store.human_votes()) == 1


def test_agreement_counts_only_pairs_the_verifier_could_judge(store):
    for passes, choice in [((True, False), "left"), ((True, False), "right"), ((True, True), "tie"),
                           ((None, None), "left"), ((False, True), "right")]:
        store.vote(issue(store, passes), choice)
    found = agreement(store.human_votes())
    assert (found.pairs, found.agree, found.decisive_pairs, found.decisive_agree) == (4, 3, 3, 2)
    assert found.rate == 0.75
