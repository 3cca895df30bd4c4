"""The Celery app: Redis broker and result backend from config, late acks, JSON only, queues by area."""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from sentinel.config import Config

QUEUES = ("ops", "ml", "events")


def make_app(cfg: Config) -> Celery:
    vt = cfg.broker_visibility_timeout
    restore = max(1, min(10, int(vt / 20)))
    app = Celery("sentinel", broker=cfg.redis_url, backend=cfg.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # every task is idempotent, so a redelivery after a crash is safe
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A worker that dies holding a task leaves it unacked; Redis gives it back after the visibility timeout,
        # noticed by a sweep every `restore` seconds (kombu's default sweep is ~100 s: too slow for short timeouts).
        broker_transport_options={
            "visibility_timeout": vt,
            "unacked_restore_interval": restore,
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"visibility_timeout": vt},
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_ignore_result=True,  # the audit stream is the record of what happened
        result_expires=86400,
        task_time_limit=cfg.task_time_limit,
        task_soft_time_limit=max(1.0, cfg.task_time_limit * 0.9),
        task_queues=[Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        task_default_queue="events",
        task_default_exchange="events",
        task_default_routing_key="events",
        task_create_missing_queues=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        enable_utc=True,
        sentinel_retry={
            "max_retries": cfg.retry.max_retries,
            "backoff": cfg.retry.backoff,
            "backoff_max": cfg.retry.backoff_max,
        },
    )
    from sentinel.workers import tasks  # the tasks module registers on this app

    tasks.register(app)
    return app
