"""Ray Serve app ``sentinel.ml.serve:app`` — ``POST /recommend``, ``GET /healthz``.

    serve run sentinel.ml.serve:app model_path=/path/or/s3/model.pt version=v3
    # or in a Serve config (REST API: PUT /api/serve/applications/):
    #   applications: [{name: recommender, route_prefix: /, import_path: sentinel.ml.serve:app,
    #                   args: {model_path: "s3://…/versions/v3/model.pt", version: v3}}]
    # or from the registry: args: {registry: "s3://…/models", version: v3}   (version omitted → current)

``POST /recommend {"user_id": 42, "movie_ids": [100, 200, 300]}`` → those movies scored, best first;
without ``movie_ids`` → the top ``k`` (default 10) movies the user has not rated; an unknown user
gets a popularity ranking with ``"fallback": true``. Every answer carries ``"model_version"``.
Malformed bodies → 422 (FastAPI validation). Requests are micro-batched with ``@serve.batch``.
"""

# No `from __future__ import annotations` here: Serve and FastAPI read these annotations at runtime.

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, model_validator
from ray import serve
from ray.serve import Application

from sentinel.ml import model, registry, scoring, storage

api = FastAPI(title="sentinel recommender")


class AppArgs(BaseModel):
    """Typed builder args (``serve run … key=value`` or a Serve config's ``args``)."""

    model_config = ConfigDict(extra="forbid")

    model_path: str | None = None  # a model.pt: local path or s3://
    registry: str | None = None  # or: a registry root, with `version` (or its current version)
    version: str | None = None
    endpoint_url: str | None = None  # S3 endpoint override (moto/MinIO); else AWS_ENDPOINT_URL
    num_replicas: int = Field(default=1, ge=1)
    num_cpus: float = Field(default=0.25, ge=0)
    max_batch_size: int = Field(default=16, ge=1)
    batch_wait_timeout_s: float = Field(default=0.002, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> "AppArgs":
        if (self.model_path is None) == (self.registry is None):
            raise ValueError("give exactly one of model_path or registry")
        if self.model_path is not None and not self.version:
            raise ValueError("version is required with model_path")
        return self


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int
    movie_ids: list[int] | None = Field(default=None, max_length=10_000)
    k: int = Field(default=10, ge=1, le=1000)


class ScoredMovie(BaseModel):
    movie_id: int
    score: float


class RecommendResponse(BaseModel):
    user_id: int
    model_version: str
    fallback: bool
    items: list[ScoredMovie]
    unknown_movie_ids: list[int] = []


def load_weights(args: AppArgs) -> scoring.Weights:
    """Resolve the model file (direct path, registry version, or registry current) and load it."""
    if args.registry is not None:
        reg = registry.Registry(args.registry, endpoint_url=args.endpoint_url)
        entry = reg.get(args.version) if args.version else reg.current()
        if entry is None:
            raise RuntimeError(f"registry {args.registry} has no current version")
        raw, version = reg.model_bytes(entry.version), entry.version
    else:
        assert args.model_path is not None and args.version is not None
        raw = storage.read_bytes(storage.resolve(args.model_path, endpoint_url=args.endpoint_url))
        version = args.version
    return scoring.from_bundle(model.loads(raw), version=version)


@serve.deployment(max_ongoing_requests=64, health_check_period_s=5, health_check_timeout_s=10)
@serve.ingress(api)
class Recommender:
    def __init__(self, args: dict[str, Any]):
        parsed = AppArgs.model_validate(args)
        self.weights = load_weights(parsed)  # load once, at replica start
        self._batched.set_max_batch_size(parsed.max_batch_size)  # type: ignore[attr-defined]
        self._batched.set_batch_wait_timeout_s(parsed.batch_wait_timeout_s)  # type: ignore[attr-defined]

    def check_health(self) -> None:
        if self.weights is None or len(self.weights.item_ids) == 0:
            raise RuntimeError("no model loaded")

    @api.get("/healthz")
    async def healthz(self) -> dict[str, Any]:
        return {"status": "ok", "model_version": self.weights.version, "items": len(self.weights.item_ids)}

    @api.post("/recommend", response_model=RecommendResponse)
    async def recommend(self, body: RecommendRequest) -> dict[str, Any]:
        query = scoring.Query(body.user_id, None if body.movie_ids is None else tuple(body.movie_ids), body.k)
        return await self._batched(query)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
    async def _batched(self, queries: list[scoring.Query]) -> list[dict[str, Any]]:
        return [scoring.as_json(s) for s in scoring.score_batch(self.weights, queries)]


def app(args: AppArgs) -> Application:
    """The application builder Serve calls with validated args."""
    return Recommender.options(  # type: ignore[attr-defined]
        num_replicas=args.num_replicas, ray_actor_options={"num_cpus": args.num_cpus}
    ).bind(args.model_dump())
