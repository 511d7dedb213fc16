"""AddTags / ListTags / DeleteTags for registry resources, addressed by ARN as SageMaker does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from infrec.core.errors import ValidationError
from infrec.core.paging import page
from infrec.store import Store
from infrec.store.tables import ModelPackageGroupRow, ModelPackageRow, ModelRow

_TABLES = (ModelPackageGroupRow, ModelPackageRow, ModelRow)
MAX_TAGS = 50


class TagService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _with_row(self, arn: str, change: Any) -> list[dict[str, str]]:
        with self.store.session() as s:
            for table in _TABLES:
                row: Any = s.scalar(select(table).where(func.lower(table.arn) == arn.lower()))
                if row is not None:
                    doc = dict(row.doc)
                    tags = {t["Key"]: t["Value"] for t in doc.get("Tags") or []}
                    change(tags)
                    if len(tags) > MAX_TAGS:
                        raise ValidationError(f"a resource can have at most {MAX_TAGS} tags")
                    doc["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
                    row.doc = doc
                    return list(doc["Tags"])
        raise ValidationError(f"ResourceArn {arn!r} does not name a model, model package or group in infrec")

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
