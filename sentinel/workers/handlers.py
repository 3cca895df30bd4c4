"""The registry: event type → playbook. Tasks look their playbook up here."""

from __future__ import annotations

from sentinel.errors import PermanentError
from sentinel.events import types
from sentinel.ops import deploy, noop, power, retrain
from sentinel.ops.context import Handler

HANDLERS: dict[str, Handler] = {
    types.NOOP: noop.run,
    types.SLEEP: power.sleep,
    types.WAKE: power.wake,
    types.KEEP_AWAKE: power.keep_awake,
    types.RETRAIN: retrain.run,
    types.DEPLOY: deploy.run,
}


def register(event_type: str, handler: Handler) -> None:
    types.route(event_type)
    HANDLERS[event_type] = handler


def lookup(event_type: str) -> Handler:
    try:
        return HANDLERS[event_type]
    except KeyError:
        raise PermanentError(f"no playbook handles {event_type!r} yet") from None
