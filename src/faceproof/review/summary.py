"""The review summary: volume, decisions, reviewers, time to a decision, and how often a
decision went against the score (an approval when the closest comparison was beyond the
threshold, a rejection when it was within)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from ..storage import Store, Tx

__all__ = ["summarize"]

#: the decisions a reviewer can take (stored as the case's status)
DECISIONS: tuple[str, ...] = ("approved", "rejected", "new_selfie")


def summarize(store: Store, *, now: float | None = None) -> dict[str, Any]:
    """Everything the summary page shows, from the review tables."""
    t = time.time() if now is None else now

    def read(tx: Tx) -> tuple[list[Any], list[Any], int]:
        rows = tx.query(
            "SELECT status, created_at, expires_at, decided_by, decided_at, score_leaning FROM fp_review_cases"
        )
        labels = tx.query("SELECT same, count(*) FROM fp_review_labels GROUP BY same")
        pending = int(tx.scalar("SELECT count(*) FROM fp_review_pairs WHERE expires_at > ?", (t,)) or 0)
        return rows, labels, pending

    rows, labels, pending = store.run(read, write=False)
    statuses: dict[str, int] = {}
    reviewers: dict[str, int] = {}
    waits: list[float] = []
    overruled = agreed = 0
    week = 0
    for status, created, expires, by, decided_at, leaning in rows:
        if status == "open" and expires <= t:
            status = "expired"
        statuses[status] = statuses.get(status, 0) + 1
        week += created > t - 7 * 86400
        if by is not None and status in DECISIONS:
            reviewers[by] = reviewers.get(by, 0) + 1
            waits.append(float(decided_at) - float(created))
            if status in ("approved", "rejected") and leaning is not None:
                if (status == "approved") == (leaning == "same"):
                    agreed += 1
                else:
                    overruled += 1
    decided = sum(statuses.get(d, 0) for d in DECISIONS)
    by_label = {bool(int(s)): int(n) for s, n in labels}
    return {
        "cases": len(rows),
        "cases_last_7_days": week,
        "open": statuses.get("open", 0),
        "expired": statuses.get("expired", 0),
        "decided": decided,
        "decisions": {d: statuses.get(d, 0) for d in DECISIONS},
        "reviewers": dict(sorted(reviewers.items())),
        "median_hours_to_decision": round(statistics.median(waits) / 3600.0, 2) if waits else None,
        "score_agreed": agreed,
        "score_overruled": overruled,
        "overrule_rate": round(overruled / (agreed + overruled), 4) if agreed + overruled else None,
        "labels": {"same": by_label.get(True, 0), "different": by_label.get(False, 0)},
        "pairs_awaiting_export": pending,
    }
