"""CloudWatch Logs, the part clients read with: GetLogEvents, FilterLogEvents, DescribeLogStreams,
DescribeLogGroups. SageMaker's SDK tails a recommendation job's execution log with GetLogEvents
(and an endpoint's with FilterLogEvents), so infrec answers those on the same server, from log
*sources* that render events from what the store holds. Nothing is ingested: PutLogEvents and the
rest of the write API are not offered.

A source is any object with three methods (`JobLogSource` in `infrec.jobs.joblog` is one):

* ``groups() -> list[(group name, creation ms)]``
* ``streams(group) -> list[(stream name, creation ms, events)] | None`` (None: not its group)
* ``events(group, stream) -> list[LogEvent] | None`` (None: no such group or stream)

Register one with ``LogsService.register``. The reading semantics (tokens, limits, time ranges,
filter patterns) are CloudWatch's and live, pure, in ``infrec.core.logpaging``.
"""

from __future__ import annotations

from typing import Any, Protocol

from infrec.core import logpaging
from infrec.core.arn import ArnBuilder
from infrec.core.errors import InfrecError
from infrec.core.logpaging import LogEvent
from infrec.core.paging import decode_token, encode_token


class ResourceNotFoundException(InfrecError):
    code = "ResourceNotFoundException"
    http_status = 400


class InvalidParameterException(InfrecError):
    code = "InvalidParameterException"
    http_status = 400


class LogSource(Protocol):
    def groups(self) -> list[tuple[str, int]]: ...

    def streams(self, group: str) -> list[tuple[str, int, list[LogEvent]]] | None: ...

    def events(self, group: str, stream: str) -> list[LogEvent] | None: ...


def _token(req: dict[str, Any]) -> str | None:
    return req.get("nextToken") or None


class LogsService:
    def __init__(self, arns: ArnBuilder) -> None:
        self.arns = arns
        self._sources: list[LogSource] = []

    def register(self, source: LogSource) -> None:
        self._sources.append(source)

    # ------------------------------------------------------------------ names
    def group_arn(self, group: str) -> str:
        return f"arn:aws:logs:{self.arns.region}:{self.arns.account_id}:log-group:{group}"

    def _group(self, req: dict[str, Any]) -> str:
        """logGroupName or logGroupIdentifier (a name or an ARN, with or without ':*'): exactly one."""
        name, ident = req.get("logGroupName"), req.get("logGroupIdentifier")
        if bool(name) == bool(ident):
            raise InvalidParameterException("Exactly one of logGroupName or logGroupIdentifier must be specified")
        if ident and ident.startswith("arn:"):
            parts = ident.split(":")
            if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
                raise InvalidParameterException(f"logGroupIdentifier {ident!r} is not a log group ARN")
            if parts[3] != self.arns.region or parts[4] != self.arns.account_id:
                raise ResourceNotFoundException("The specified log group does not exist.")
            return parts[6]
        return str(name or ident)

    def _streams(self, group: str) -> list[tuple[str, int, list[LogEvent]]]:
        for source in self._sources:
            found = source.streams(group)
            if found is not None:
                return found
        raise ResourceNotFoundException("The specified log group does not exist.")

    def _events(self, group: str, stream: str) -> list[LogEvent]:
        self._streams_exist(group)
        for source in self._sources:
            found = source.events(group, stream)
            if found is not None:
                return logpaging.sort_events(found)
        raise ResourceNotFoundException("The specified log stream does not exist.")

    def _streams_exist(self, group: str) -> None:
        if not any(group == g for source in self._sources for g, _ in source.groups()):
            raise ResourceNotFoundException("The specified log group does not exist.")

    # -------------------------------------------------------------- operations
    def get_log_events(self, req: dict[str, Any]) -> dict[str, Any]:
        group = self._group(req)
        events = self._events(group, req["logStreamName"])
        try:
            page = logpaging.get_log_events(events, token=_token(req), start_from_head=bool(req.get("startFromHead")),
                                            start_time=req.get("startTime"), end_time=req.get("endTime"),
                                            limit=req.get("limit"))
        except logpaging.TokenError as exc:
            raise InvalidParameterException(str(exc)) from exc
        return {"events": [e.to_doc() for e in page.events], "nextForwardToken": page.next_forward_token,
                "nextBackwardToken": page.next_backward_token}

    def filter_log_events(self, req: dict[str, Any]) -> dict[str, Any]:
        group = self._group(req)
        names, prefix = req.get("logStreamNames"), req.get("logStreamNamePrefix")
        if names and prefix:
            raise InvalidParameterException("logStreamNames and logStreamNamePrefix cannot both be specified")
        streams = [(n, evs) for n, _, evs in self._streams(group)
                   if (not names or n in names) and (not prefix or n.startswith(prefix))]
        if names and not streams:
            raise ResourceNotFoundException("The specified log stream does not exist.")
        try:
            page = logpaging.filter_log_events(streams, pattern=req.get("filterPattern"),
                                               start_time=req.get("startTime"), end_time=req.get("endTime"),
                                               limit=req.get("limit"), token=_token(req))
        except (logpaging.TokenError, logpaging.PatternError) as exc:
            raise InvalidParameterException(str(exc)) from exc
        out: dict[str, Any] = {
            "events": [{"logStreamName": f.stream, "eventId": f.event_id, **f.event.to_doc()} for f in page.events],
            "searchedLogStreams": [{"logStreamName": n, "searchedCompletely": True} for n, _ in streams],
        }
        if page.next_token:
            out["nextToken"] = page.next_token
        return out

    def describe_log_streams(self, req: dict[str, Any]) -> dict[str, Any]:
        group = self._group(req)
        order = req.get("orderBy") or "LogStreamName"
        prefix = req.get("logStreamNamePrefix")
        if prefix and order == "LastEventTime":
            raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
        docs = []
        for name, created, events in self._streams(group):
            if prefix and not name.startswith(prefix):
                continue
            doc: dict[str, Any] = {"logStreamName": name, "creationTime": created,
                                   "arn": f"{self.group_arn(group)}:log-stream:{name}", "storedBytes": 0}
            if events:
                doc["firstEventTimestamp"] = min(e.timestamp for e in events)
                doc["lastEventTimestamp"] = max(e.timestamp for e in events)
                doc["lastIngestionTime"] = max(e.ingestion_time or e.timestamp for e in events)
            docs.append(doc)
        if order == "LastEventTime":
            docs.sort(key=lambda d: (d.get("lastEventTimestamp") or 0, d["logStreamName"]))
        else:
            docs.sort(key=lambda d: d["logStreamName"])
        if req.get("descending"):
            docs.reverse()
        chunk, token = self._page(docs, req, 50)
        out: dict[str, Any] = {"logStreams": chunk}
        if token:
            out["nextToken"] = token
        return out

    def describe_log_groups(self, req: dict[str, Any]) -> dict[str, Any]:
        prefix = req.get("logGroupNamePrefix")
        pattern = req.get("logGroupNamePattern")
        if prefix and pattern:
            raise InvalidParameterException("logGroupNamePrefix and logGroupNamePattern cannot both be specified")
        wanted = set(req.get("logGroupIdentifiers") or [])
        groups = sorted({g: c for source in self._sources for g, c in source.groups()}.items())
        docs = []
        for name, created in groups:
            arn = self.group_arn(name)
            if prefix and not name.startswith(prefix):
                continue
            if pattern and pattern.lower() not in name.lower():
                continue
            if wanted and not ({name, arn, arn + ":*"} & wanted):
                continue
            docs.append({"logGroupName": name, "creationTime": created, "arn": arn + ":*", "logGroupArn": arn,
                         "storedBytes": 0, "metricFilterCount": 0, "logGroupClass": "STANDARD"})
        chunk, token = self._page(docs, req, 50)
        out: dict[str, Any] = {"logGroups": chunk}
        if token:
            out["nextToken"] = token
        return out

    @staticmethod
    def _page(items: list[dict[str, Any]], req: dict[str, Any], default: int) -> tuple[list[dict[str, Any]], str | None]:
        query = {k: v for k, v in req.items() if k not in ("nextToken", "limit")}
        try:
            start = decode_token(req.get("nextToken"), query)
        except InfrecError as exc:
            raise InvalidParameterException("The specified nextToken is invalid.") from exc
        size = int(req.get("limit") or default)
        end = start + size
        return items[start:end], (encode_token(end, query) if end < len(items) else None)
