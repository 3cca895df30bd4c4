"""In-memory fakes of the ports in :mod:`sentinel.ops.ports`; the contract suites keep them honest."""

from tests.fakes.cloud import FakeCloud
from tests.fakes.kube import FakeKube
from tests.fakes.nodegroups import FakeNodeGroups
from tests.fakes.rayjobs import FakeRayJobs

__all__ = ["FakeCloud", "FakeKube", "FakeNodeGroups", "FakeRayJobs"]
