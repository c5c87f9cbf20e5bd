"""The sockets ``ledger-collect api --workers N`` accepts on: one of its own per worker, all on
the port, so that the kernel spreads new connections over the workers.

uvicorn's workers share the supervisor's one socket. A worker woken by waiting connections
accepts all of them at once (asyncio accepts up to the backlog per wake-up), so clients that
connect together and keep their connections (a proxy's pool, the benchmark's clients) land on
one worker, which serves alone while the others idle. With ``SO_REUSEPORT`` each worker listens
on a socket of its own and the kernel deals each new connection to one of them by its address
hash.

uvicorn hands the supervisor's sockets to each worker it spawns by pickling them
(``uvicorn._subprocess``), anew for every worker it (re)starts: ``SharedPort`` pickles as a new
socket of the worker's own. Like uvicorn's, the sockets name TCP as their protocol, so that
asyncio turns Nagle's algorithm off on the connections accepted from them.
"""

from __future__ import annotations

import socket
from typing import Any


def listening_socket(host: str, port: int, *, reuse_port: bool = False,
                     kind: type[socket.socket] = socket.socket) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening), inheritable."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    made = kind(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        made.bind((host, port))
    except OSError:
        made.close()
        raise
    made.set_inheritable(True)
    return made


def worker_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket on the port the supervisor holds."""
    return listening_socket(host, port, reuse_port=True)


class SharedPort(socket.socket):
    """The port as the supervisor holds it: bound with ``SO_REUSEPORT``, so that a port in use
    is refused before any worker starts, and never listening, so that the kernel deals it no
    connection (only listening sockets share a port's connections). uvicorn hands its sockets
    to the workers it spawns by pickling them: this one then comes out as the worker's own
    socket on the same port (``worker_socket``), a new one each time a worker is (re)started."""

    def __reduce__(self) -> tuple[Any, ...]:
        host, port = self.getsockname()[:2]
        return worker_socket, (host, port)


def shared_port(host: str, port: int) -> SharedPort:
    """The supervisor's hold on the port; OSError (address in use) when a server already
    listens on it. ``SO_REUSEPORT`` alone would let a second ``api`` of the same user join the
    port silently, so the port is first bound without it: that fails on a port in use."""
    listening_socket(host, port).close()
    made = listening_socket(host, port, reuse_port=True, kind=SharedPort)
    assert isinstance(made, SharedPort)
    return made
