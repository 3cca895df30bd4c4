"""The Celery app, routing, and thin tasks that hand events to playbooks."""
