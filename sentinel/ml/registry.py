"""Model versions under one storage prefix (a local dir or ``s3://bucket/prefix``).

Layout (plain files, readable with ``aws s3 ls`` or ``ls``)::

    <root>/versions/<version>/model.pt          the Bundle (see ``model.py``)
    <root>/versions/<version>/model_card.json   the card, plus "registered_at"
    <root>/current.json                         {"version": …, "history": [older…, current]}

``previous()`` is the version that was current before the current one (what a rollback goes
back to); ``set_current(previous())`` is a rollback, and a second rollback goes forward again.
Local roots use the local filesystem, ``s3://`` roots pyarrow's S3 filesystem (endpoint
overridable for moto/MinIO); no boto3.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from sentinel.ml import storage

MODEL_FILE = "model.pt"
CARD_FILE = "model_card.json"
POINTER_FILE = "current.json"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RegistryError(Exception):
    """Base of the registry's errors."""


class VersionNotFound(RegistryError, LookupError):
    pass


class VersionExists(RegistryError):
    pass


class InvalidVersion(RegistryError, ValueError):
    pass


@dataclass(frozen=True)
class ModelVersion:
    version: str
    model_uri: str
    card_uri: str
    card: dict[str, Any]

    @property
    def registered_at(self) -> str:
        return str(self.card.get("registered_at", ""))

    @property
    def rmse(self) -> float | None:
        value = self.card.get("rmse")
        return None if value is None else float(value)


def check_version(version: str) -> str:
    if not _VERSION_RE.match(version or ""):
        raise InvalidVersion(f"invalid version id {version!r}: use letters, digits, '.', '_' or '-' (≤128)")
    return version


class Registry:
    def __init__(self, root: str, *, endpoint_url: str | None = None):
        self.root = storage.resolve(root, endpoint_url=endpoint_url)

    def _vdir(self, version: str) -> storage.Location:
        return self.root.join("versions", check_version(version))

    def register(
        self,
        version: str,
        model_bytes: bytes,
        *,
        card: dict[str, Any],
        make_current: bool = False,
        now: dt.datetime | None = None,
    ) -> ModelVersion:
        """Store the model file and card; the card is written last, so a listed version is complete."""
        vdir = self._vdir(version)
        card_loc = vdir.join(CARD_FILE)
        if storage.exists(card_loc):
            raise VersionExists(f"version {version!r} is already registered at {vdir.uri}")
        stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")
        full_card = {**card, "version": version, "registered_at": stamp}
        storage.write_bytes(vdir.join(MODEL_FILE), model_bytes)
        storage.write_bytes(card_loc, json.dumps(full_card, indent=2, sort_keys=True).encode())
        if make_current:
            self.set_current(version)
        return self._entry(version, full_card)

    def _entry(self, version: str, card: dict[str, Any]) -> ModelVersion:
        vdir = self._vdir(version)
        return ModelVersion(version, vdir.join(MODEL_FILE).uri, vdir.join(CARD_FILE).uri, card)

    def get(self, version: str) -> ModelVersion:
        loc = self._vdir(version).join(CARD_FILE)
        try:
            card = json.loads(storage.read_bytes(loc))
        except (FileNotFoundError, OSError) as e:
            raise VersionNotFound(f"no version {version!r} under {self.root.uri}") from e
        return self._entry(version, card)

    def list_versions(self) -> list[ModelVersion]:
        """Complete versions (card present), oldest registration first."""
        out = []
        for name in storage.list_dirs(self.root.join("versions")):
            try:
                out.append(self.get(name))
            except (VersionNotFound, InvalidVersion):
                continue  # half-written or foreign directory
        return sorted(out, key=lambda v: (v.registered_at, v.version))

    def model_bytes(self, version: str) -> bytes:
        self.get(version)
        return storage.read_bytes(self._vdir(version).join(MODEL_FILE))

    def _pointer(self) -> dict[str, Any]:
        loc = self.root.join(POINTER_FILE)
        try:
            return dict(json.loads(storage.read_bytes(loc)))
        except (FileNotFoundError, OSError):
            return {"version": None, "history": []}

    def current(self) -> ModelVersion | None:
        version = self._pointer().get("version")
        return None if version is None else self.get(version)

    def set_current(self, version: str) -> ModelVersion:
        entry = self.get(version)  # refuse to point at a version that does not exist
        pointer = self._pointer()
        history = [v for v in pointer.get("history", []) if isinstance(v, str)]
        if pointer.get("version") != version:
            history.append(version)
        doc = {"version": version, "history": history[-100:], "updated_at": dt.datetime.now(dt.UTC).isoformat()}
        storage.write_bytes(self.root.join(POINTER_FILE), json.dumps(doc, indent=2).encode())
        return entry

    def previous(self) -> ModelVersion | None:
        history = self._pointer().get("history", [])
        return self.get(history[-2]) if len(history) >= 2 else None
