"""Free loopback TCP ports, several at once and all distinct."""

from __future__ import annotations

import contextlib
import socket


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports on 127.0.0.1.

    All ``n`` sockets stay bound until every port is picked, so the kernel cannot hand the same
    ephemeral port out twice (picking them one by one can, and Ray refuses to start when two of its
    components are given the same port). Another process may still take one before the caller binds
    it: callers that start servers retry with fresh ports when that happens.
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


def free_port() -> int:
    return free_ports(1)[0]
