"""AWS event-stream framing (application/vnd.amazon.eventstream), the encoding side.

botocore decodes it (`botocore.eventstream`) but has no encoder; a frame is small and fixed:
total length, headers length, CRC32 of those 8 bytes, headers, payload, CRC32 of all before it.
Header values here are strings (type 7): all InvokeEndpointWithResponseStream needs.
"""

from __future__ import annotations

import struct
import zlib


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        out += struct.pack("!B", len(n)) + n + struct.pack("!BH", 7, len(v)) + v
    return bytes(out)


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    h = _headers(headers)
    total = 12 + len(h) + len(payload) + 4
    prelude = struct.pack("!II", total, len(h))
    head = prelude + struct.pack("!I", zlib.crc32(prelude)) + h + payload
    return head + struct.pack("!I", zlib.crc32(head))


def event(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    return frame({":message-type": "event", ":event-type": event_type, ":content-type": content_type}, payload)


def exception(exception_type: str, payload: bytes) -> bytes:
    return frame({":message-type": "exception", ":exception-type": exception_type,
                  ":content-type": "application/json"}, payload)
