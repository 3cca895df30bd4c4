"""Where bytes live: a local path or ``s3://bucket/key``, behind one pyarrow filesystem.

The S3 endpoint can be overridden (a moto server, MinIO) by an explicit argument or, at call
time, by ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``. Nothing here reads the environment at import.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow.fs as pafs


@dataclass(frozen=True)
class Location:
    """A resolved URI: the filesystem, the path inside it, and the URI it came from."""

    fs: pafs.FileSystem
    path: str
    uri: str

    def join(self, *parts: str) -> Location:
        path = posixpath.join(self.path, *parts)
        uri = posixpath.join(self.uri, *parts)
        return Location(fs=self.fs, path=path, uri=uri)


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def endpoint_from_env(env: dict[str, str] | None = None) -> str | None:
    env = dict(os.environ) if env is None else env
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def s3_filesystem(*, endpoint_url: str | None = None, region: str | None = None) -> pafs.S3FileSystem:
    """An S3 filesystem; static keys from the env (if any) are bound into it, so the pickled copy Ray ships
    to Train/Tune workers still authenticates there. Without static keys the default chain (IRSA…) applies."""
    endpoint = endpoint_url or endpoint_from_env()
    env = os.environ
    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    kwargs: dict[str, object] = {"region": region}
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        kwargs["access_key"] = env["AWS_ACCESS_KEY_ID"]
        kwargs["secret_key"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            kwargs["session_token"] = env["AWS_SESSION_TOKEN"]
    if endpoint:
        parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
        kwargs["endpoint_override"] = parsed.netloc
        kwargs["scheme"] = parsed.scheme
    return pafs.S3FileSystem(**kwargs)


def resolve(uri: str | os.PathLike[str], *, endpoint_url: str | None = None) -> Location:
    """``s3://b/k`` → (S3FileSystem, ``b/k``); anything else → (LocalFileSystem, absolute path)."""
    text = os.fspath(uri)
    if is_s3(text):
        return Location(fs=s3_filesystem(endpoint_url=endpoint_url), path=text[len("s3://") :].rstrip("/"), uri=text)
    path = os.path.abspath(os.path.expanduser(text))
    return Location(fs=pafs.LocalFileSystem(), path=path, uri=path)


def read_bytes(loc: Location) -> bytes:
    with loc.fs.open_input_stream(loc.path) as f:
        return bytes(f.read())


def write_bytes(loc: Location, data: bytes) -> None:
    parent = posixpath.dirname(loc.path)
    if parent:
        loc.fs.create_dir(parent, recursive=True)
    with loc.fs.open_output_stream(loc.path) as f:
        f.write(data)


def exists(loc: Location) -> bool:
    return loc.fs.get_file_info(loc.path).type != pafs.FileType.NotFound


def list_dirs(loc: Location) -> list[str]:
    """Names of the immediate sub-directories (for S3: common prefixes)."""
    if not exists(loc):
        return []
    infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=False, allow_not_found=True))
    return sorted(posixpath.basename(i.path) for i in infos if i.type == pafs.FileType.Directory)

