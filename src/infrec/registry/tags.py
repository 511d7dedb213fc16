"""AddTags / ListTags / DeleteTags for any infrec resource, addressed by ARN as SageMaker does.

Which resources can be tagged is data: a `Taggable` names a table (with an `arn` column) and the
JSON column whose ``"Tags"`` list holds the resource's tags (``doc`` for registry resources, the
stored ``request`` for recommendation jobs, which keep the Tags they were created with). Another
resource kind becomes taggable with one line: append a `Taggable` to `TAGGABLE`, or call
``TagService.register`` from the composition root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from infrec.core.errors import ValidationError
from infrec.core.paging import page
from infrec.store import Store
from infrec.store.tables import (
    EndpointConfigRow,
    EndpointRow,
    JobRow,
    ModelPackageGroupRow,
    ModelPackageRow,
    ModelRow,
)

MAX_TAGS = 50


@dataclass(frozen=True)
class Taggable:
    table: Any        # a mapped table class with an `arn` column
    column: str       # the JSON column whose "Tags" member holds the tags
    label: str        # what to call it in messages


TAGGABLE: list[Taggable] = [
    Taggable(ModelPackageGroupRow, "doc", "model package group"),
    Taggable(ModelPackageRow, "doc", "model package"),
    Taggable(ModelRow, "doc", "model"),
    Taggable(JobRow, "request", "inference recommendations job"),
    Taggable(EndpointConfigRow, "doc", "endpoint config"),
    Taggable(EndpointRow, "doc", "endpoint"),
]


class TagService:
    def __init__(self, store: Store, kinds: list[Taggable] | None = None) -> None:
        self.store = store
        self.kinds = list(TAGGABLE if kinds is None else kinds)

    def register(self, kind: Taggable) -> None:
        self.kinds.append(kind)

    def _with_row(self, arn: str, change: Any) -> list[dict[str, str]]:
        with self.store.session() as s:
            for kind in self.kinds:
                table = kind.table
                row: Any = s.scalar(select(table).where(func.lower(table.arn) == arn.lower()))
                if row is not None:
                    doc = dict(getattr(row, kind.column) or {})
                    tags = {t["Key"]: t.get("Value", "") for t in doc.get("Tags") or []}
                    change(tags)
                    if len(tags) > MAX_TAGS:
                        raise ValidationError(f"a resource can have at most {MAX_TAGS} tags")
                    doc["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
                    setattr(row, kind.column, doc)  # a new dict, so the JSON column is seen as changed
                    return list(doc["Tags"])
        kinds = ", ".join(k.label for k in self.kinds)
        raise ValidationError(f"ResourceArn {arn!r} does not name a resource infrec can tag ({kinds})")

    def add_tags(self, req: dict[str, Any]) -> dict[str, Any]:
        new = {t["Key"]: t.get("Value", "") for t in req["Tags"]}
        return {"Tags": self._with_row(req["ResourceArn"], lambda tags: tags.update(new))}

    def delete_tags(self, req: dict[str, Any]) -> dict[str, Any]:
        def drop(tags: dict[str, str]) -> None:
            for k in req["TagKeys"]:
                tags.pop(k, None)

        self._with_row(req["ResourceArn"], drop)
        return {}

    def list_tags(self, req: dict[str, Any]) -> dict[str, Any]:
        tags = self._with_row(req["ResourceArn"], lambda tags: None)
        chunk, token = page(tags, req, default_max=50)
        out: dict[str, Any] = {"Tags": chunk}
        if token:
            out["NextToken"] = token
        return out
