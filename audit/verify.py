"""Walking the audit hash chain: what was edited, removed or inserted (read-only)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime

from audit.chain import GENESIS, HASHED_FIELDS, event_hash
from audit.models import AuditCheckpoint, AuditEvent

EDITED = "edited"
MISSING = "missing"
INSERTED = "inserted"


@dataclass(frozen=True)
class Problem:
    kind: str  # EDITED, MISSING or INSERTED
    seq: int  # the event's position (for MISSING: the first missing position)
    detail: str
    event_id: int | None = None
    action: str = ""
    last_seq: int | None = None  # MISSING: the last missing position

    def __str__(self) -> str:
        if self.kind == MISSING:
            where = f"#{self.seq}" if self.last_seq == self.seq else f"#{self.seq}-#{self.last_seq}"
            return f"{self.kind} {where}: {self.detail}"
        return f"{self.kind} #{self.seq} (id {self.event_id}, {self.action}): {self.detail}"

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Verification:
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        span = f"#{self.first_seq}-#{self.last_seq}" if self.checked else "no events"
        if self.ok:
            return f"audit chain intact: {self.checked} events checked ({span})"
        kinds = {}
        for problem in self.problems:
            kinds[problem.kind] = kinds.get(problem.kind, 0) + 1
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        return f"audit chain BROKEN: {counts} in {self.checked} events checked ({span})"


def _rows(after_seq: int, batch_size: int) -> Iterator[dict]:
    """Events in seq order, a batch at a time (keyset pagination: constant memory)."""
    columns = ("id", "hash", *HASHED_FIELDS)
    while True:
        batch = list(
            AuditEvent.objects.filter(seq__gt=after_seq)
            .order_by("seq")
            .values(*columns)[:batch_size]
        )
        yield from batch
        if len(batch) < batch_size:
            return
        after_seq = batch[-1]["seq"]


def _start(since: int | datetime | None) -> tuple[int, str]:
    """(seq, hash) of the event before the first one checked; (0, GENESIS) from the start."""
    if since is None:
        return 0, GENESIS
    events = AuditEvent.objects.order_by("-seq")
    if isinstance(since, datetime):
        first = (
            AuditEvent.objects.filter(created_at__gte=since)
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
        if first is None:  # nothing that recent: nothing to check
            first = (events.values_list("seq", flat=True).first() or 0) + 1
        since = first
    before = events.filter(seq__lt=since).values_list("seq", "hash").first()
    return before if before is not None else (0, GENESIS)


def audit_chain_verify(
    *, since: int | datetime | None = None, batch_size: int = 2000, checkpoint: bool = False
) -> Verification:
    """Recompute every hash in seq order and check each link to the event before.

    - EDITED: an event's content no longer matches its own hash;
    - MISSING: positions absent from the sequence (deleted events);
    - INSERTED: an event whose prev_hash is not the hash of the event before it (a row that
      audit_record did not write, or a predecessor replaced together with its hash).

    `since`: a seq, or a moment (the first event at or after it); the link from the event before
    it is checked too. Rows are read in batches of `batch_size`. A whole walk (or `checkpoint`)
    also checks that the end of the log seen by the last successful verification is still there
    (see checkpoint_problems).
    """
    prev_seq, prev_hash = _start(since)
    result = Verification()
    for row in _rows(prev_seq, batch_size):
        seq = row["seq"]
        result.checked += 1
        result.first_seq = seq if result.first_seq is None else result.first_seq
        result.last_seq = seq
        intact = event_hash(row) == row["hash"]
        gap = seq - prev_seq - 1
        if gap > 0:
            result.problems.append(
                Problem(
                    kind=MISSING,
                    seq=prev_seq + 1,
                    last_seq=seq - 1,
                    detail=f"{gap} event(s) deleted between #{prev_seq} and #{seq}",
                )
            )
        if gap == 0 and row["prev_hash"] != prev_hash:
            detail = (
                f"does not chain to #{prev_seq} and its hash does not match its content"
                if not intact
                else f"its prev_hash is not the hash of #{prev_seq} (a forged row, or #{prev_seq}"
                " was replaced and re-hashed)"
            )
            result.problems.append(
                Problem(INSERTED, seq, detail, event_id=row["id"], action=row["action"])
            )
        elif not intact:
            result.problems.append(
                Problem(
                    EDITED,
                    seq,
                    "its content no longer matches its hash",
                    event_id=row["id"],
                    action=row["action"],
                )
            )
        prev_seq, prev_hash = seq, row["hash"]
    result.last_hash = prev_hash if result.checked else ""
    if since is None or checkpoint:
        result.problems.extend(checkpoint_problems(result))
    return result


def checkpoint_problems(result: Verification) -> list[Problem]:
    """What the chain alone cannot show: its end cut off (or replaced) since the last
    successful verification, whose last event (AuditCheckpoint) must still be there, unchanged.
    """
    checkpoint = AuditCheckpoint.objects.order_by("-verified_at").first()
    if checkpoint is None:
        return []
    seen = f"verified at {checkpoint.verified_at:%Y-%m-%d %H:%M:%S} UTC"
    row = AuditEvent.objects.filter(seq=checkpoint.seq).values_list("id", "action", "hash").first()
    if row is None:
        last = result.last_seq or 0
        if last >= checkpoint.seq:  # a hole, already named by the walk
            return []
        return [
            Problem(
                kind=MISSING,
                seq=last + 1,
                last_seq=checkpoint.seq,
                detail=f"the end of the log was cut off: #{checkpoint.seq} was {seen}",
            )
        ]
    if row[2] != checkpoint.hash:
        return [
            Problem(
                kind=EDITED,
                seq=checkpoint.seq,
                event_id=row[0],
                action=row[1],
                detail=f"not the event {seen} (replaced)",
            )
        ]
    return []
