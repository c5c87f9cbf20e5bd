"""The socket the API's workers accept on: connections accepted from it answer without
Nagle's algorithm (TCP_NODELAY), as a single uvicorn process's do; a socket made without naming
TCP (uvicorn's own for workers before 0.55) gives connections that wait for the client's
delayed acknowledgement."""

from __future__ import annotations

import asyncio
import errno
import socket

from ledger_collect.api.app import listening_socket


async def _nodelay_of_accepted(listening: socket.socket) -> int:
    found: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        found.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    listening.listen()
    server = await asyncio.start_server(accepted, sock=listening)
    async with server:
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        value = await asyncio.wait_for(found, 5)
        writer.close()
    return value


def test_connections_accepted_by_the_workers_socket_send_without_delay() -> None:
    with listening_socket("127.0.0.1", 0) as listening:
        assert listening.proto == socket.IPPROTO_TCP and listening.get_inheritable()
        assert asyncio.run(_nodelay_of_accepted(listening)) == 1


def test_a_socket_not_made_for_tcp_is_why() -> None:
    """What uvicorn's ``Config.bind_socket`` made before 0.55 (no protocol named): asyncio
    leaves Nagle's algorithm on for the connections accepted from it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as theirs:
        theirs.bind(("127.0.0.1", 0))
        assert theirs.proto == 0
        assert asyncio.run(_nodelay_of_accepted(theirs)) == 0


def test_a_port_in_use_is_refused() -> None:
    with listening_socket("127.0.0.1", 0) as taken:
        taken.listen()
        try:
            listening_socket("127.0.0.1", taken.getsockname()[1])
        except OSError as error:
            assert error.errno == errno.EADDRINUSE
        else:
            raise AssertionError("bound a port in use")
