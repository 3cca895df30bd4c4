"""The model registry, as ops sees it: the layout ``sentinel.ml.registry`` writes, read (and the ``current`` pointer
moved) from a local dir or ``s3://bucket/prefix`` — with boto3 here, so ops never imports ``sentinel.ml``.

    <root>/versions/<version>/model_card.json     <root>/current.json  {"version": …, "history": […]}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sentinel.errors import PermanentError
from sentinel.ops import ports
from sentinel.ops.adapters import errors

POINTER = "current.json"
CARD = "model_card.json"


class Registry:
    """Implements :class:`sentinel.ops.ports.ModelRegistry`."""

    def __init__(self, root: str, *, env: Mapping[str, str], region: str = "us-east-1") -> None:
        self.root = root.rstrip("/")
        u = urlparse(self.root)
        self._s3 = None
        if u.scheme == "s3":
            import boto3

            endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
            self._s3 = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, region_name=env.get("AWS_DEFAULT_REGION", region),
                aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"), aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            )
            self.bucket, self.prefix = u.netloc, u.path.strip("/")
        elif u.scheme not in ("", "file"):
            raise PermanentError(f"model storage {root!r}: use a local path or s3://bucket/prefix")

    def _read(self, rel: str) -> bytes | None:
        if self._s3 is None:
            p = Path(urlparse(self.root).path if self.root.startswith("file:") else self.root) / rel
            return p.read_bytes() if p.exists() else None
        key = f"{self.prefix}/{rel}" if self.prefix else rel
        try:
            return bytes(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except Exception as e:
            if getattr(e, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise errors.aws(e, what=f"read {self.root}/{rel}") from e

    def _write(self, rel: str, body: bytes) -> None:
        if self._s3 is None:
            p = Path(self.root) / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_suffix(".tmp")
            tmp.write_bytes(body)
            tmp.replace(p)
            return
        key = f"{self.prefix}/{rel}" if self.prefix else rel
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        except Exception as e:
            raise errors.aws(e, what=f"write {self.root}/{rel}") from e

    def _pointer(self) -> dict[str, Any]:
        raw = self._read(POINTER)
        return dict(json.loads(raw)) if raw else {"version": None, "history": []}

    def card(self, version: str) -> dict[str, Any] | None:
        raw = self._read(f"versions/{version}/{CARD}")
        return dict(json.loads(raw)) if raw else None

    def current(self) -> str | None:
        v = self._pointer().get("version")
        return str(v) if v else None

    def previous(self) -> str | None:
        history = self._pointer().get("history", [])
        return str(history[-2]) if len(history) >= 2 else None

    def set_current(self, version: str) -> None:
        if self.card(version) is None:
            raise PermanentError(f"model version {version!r} is not registered under {self.root}")
        pointer = self._pointer()
        history = [v for v in pointer.get("history", []) if isinstance(v, str)]
        if pointer.get("version") != version:
            history.append(version)
        doc = {"version": version, "history": history[-100:], "updated_at": dt.datetime.now(dt.UTC).isoformat()}
        self._write(POINTER, json.dumps(doc, indent=2).encode())


_: type[ports.ModelRegistry] = Registry
