"""Playbooks (sleep, wake, keep-awake, retrain, deploy) and the adapters they act through."""
