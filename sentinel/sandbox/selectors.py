"""Label and field selectors, parsed the way the API server reads ``labelSelector`` / ``fieldSelector``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sentinel.sandbox.status import ApiError, bad_request

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_SET = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([^!=\s]+)\s*(==|=|!=)\s*(\S*)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        return labels.get(self.key) not in self.values  # notin: a missing key matches


def _split(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in (s.strip() for s in parts) if p]


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key):
        raise bad_request(f"unable to parse requirement: invalid label key {key!r} in {text!r}")
    return key


def parse_labels(text: str | None) -> list[Requirement]:
    """``app=x,tier!=db,env in (a,b),!legacy`` → requirements (all must match)."""
    reqs: list[Requirement] = []
    for part in _split(text or ""):
        if m := _SET.match(part):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(_check_key(m.group(1), text or ""), m.group(2), values))
        elif m := _EQ.match(part):
            op = "notin" if m.group(2) == "!=" else "in"
            reqs.append(Requirement(_check_key(m.group(1), text or ""), op, frozenset([m.group(3)])))
        elif part.startswith("!"):
            reqs.append(Requirement(_check_key(part[1:].strip(), text or ""), "!exists"))
        else:
            reqs.append(Requirement(_check_key(part, text or ""), "exists"))
    return reqs


def match_labels(reqs: list[Requirement], obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def from_match_labels(match: Mapping[str, str]) -> list[Requirement]:
    return [Requirement(k, "in", frozenset([v])) for k, v in match.items()]


def _field(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    if cur is None:
        return "false" if path == "spec.unschedulable" else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_fields(text: str | None, *, allowed: tuple[str, ...]) -> Callable[[Mapping[str, Any]], bool]:
    """``metadata.name=x,status.phase!=Running`` → predicate; unknown field labels are a 400, as on a real server."""
    tests: list[tuple[str, bool, str]] = []
    for part in _split(text or ""):
        m = _EQ.match(part)
        if not m:
            raise bad_request(f"invalid selector: {text!r}; can't understand {part!r}")
        field, op, value = m.groups()
        if field not in ("metadata.name", "metadata.namespace", *allowed):
            raise ApiError(400, f"field label not supported: {field}")
        tests.append((field, op != "!=", value))

    def predicate(obj: Mapping[str, Any]) -> bool:
        return all((_field(obj, f) == v) == want for f, want, v in tests)

    return predicate
