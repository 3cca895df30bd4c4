"""The local stand-in cloud: moto (S3, SQS, EKS) and a Kubernetes API emulator with simulated controllers.

Imported only by the CLI and tests. ``Sandbox(cfg, workdir=...)`` starts everything; ``sb.env`` is what a
process needs to reach it with unchanged boto3 / kubernetes clients and kubectl.
"""

from sentinel.sandbox.history import HistoryEntry
from sentinel.sandbox.sandbox import Sandbox

__all__ = ["HistoryEntry", "Sandbox"]
