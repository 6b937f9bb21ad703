"""The hash chain of the audit log: canonical form of an event and its SHA-256.

Each event's `hash` is SHA-256 (hex) over the canonical JSON of its fields plus `prev_hash`, the
hash of the event before it in `seq` order. Editing, removing or inserting a row breaks the chain
at that point; `manage.py audit_verify` finds where.

Pure functions (no database): the writer (audit.services), the verifier (audit.verify) and the
migration that chained the rows written before the chain existed all use exactly these.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import UTC, datetime
from typing import Any

# The fields that are hashed, in the order they are read from the database. Everything but the
# surrogate primary key (`id`) and `hash` itself.
HASHED_FIELDS = (
    "seq",
    "code",
    "created_at",
    "actor_type",
    "actor_user_id",
    "actor_label",
    "api_key_id",
    "action",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "request_id",
    "data",
    "prev_hash",
)

GENESIS = ""  # prev_hash of the first event


def _ip(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return ipaddress.ip_address(str(value)).compressed
    except ValueError:
        return str(value)


def _moment(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # naive values are UTC (USE_TZ = True stores UTC)
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_data(data: Any) -> Any:
    """`data` as it reads back from any database: a JSON round trip."""
    return json.loads(json.dumps(data if data is not None else {}))


def canonical(fields: dict[str, Any]) -> bytes:
    """The canonical JSON of an event's hashed fields (sorted keys, compact, ASCII)."""
    actor_user_id = fields.get("actor_user_id")
    row = {
        "seq": int(fields["seq"]),
        "code": str(fields["code"]),
        "created_at": _moment(fields["created_at"]),
        "actor_type": fields.get("actor_type") or "",
        "actor_user_id": int(actor_user_id) if actor_user_id is not None else None,
        "actor_label": fields.get("actor_label") or "",
        "api_key_id": fields.get("api_key_id") or "",
        "action": fields.get("action") or "",
        "target_type": fields.get("target_type") or "",
        "target_id": fields.get("target_id") or "",
        "ip": _ip(fields.get("ip")),
        "user_agent": fields.get("user_agent") or "",
        "request_id": fields.get("request_id") or "",
        "data": canonical_data(fields.get("data")),
        "prev_hash": fields.get("prev_hash") or GENESIS,
    }
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def event_hash(fields: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical form (the value stored in `hash`)."""
    return hashlib.sha256(canonical(fields)).hexdigest()
