"""The sockets the API's workers accept on (``speedups.sockets``): connections accepted from
them answer without Nagle's algorithm (TCP_NODELAY); each worker listens on a socket of its
own on the port, and the kernel spreads connections over them, none to the supervisor's.
uvicorn's own socket (the speed-up off) answers without Nagle's algorithm too."""

from __future__ import annotations

import asyncio
import errno
import pickle
import socket
from multiprocessing.reduction import ForkingPickler

import pytest
import uvicorn

from ledger_collect.speedups.sockets import SharedPort, listening_socket, shared_port


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


def _handed_to_a_worker(port: SharedPort) -> socket.socket:
    """What a spawned worker gets: uvicorn pickles its sockets for the new process."""
    return pickle.loads(ForkingPickler.dumps(port))


def test_connections_accepted_by_a_workers_socket_send_without_delay() -> None:
    with shared_port("127.0.0.1", 0) as port, _handed_to_a_worker(port) as own:
        assert own.proto == socket.IPPROTO_TCP and own.get_inheritable()
        assert asyncio.run(_nodelay_of_accepted(own)) == 1


def test_connections_accepted_by_uvicorns_own_socket_send_without_delay() -> None:
    """uvicorn (from 0.55) names TCP on the socket its workers share, as ours do: asyncio turns
    Nagle's algorithm off on the connections accepted from it (it checks ``sock.proto``)."""
    with uvicorn.Config("ledger_collect.api.server:worker_app", host="127.0.0.1",
                        port=0).bind_socket() as theirs:
        assert theirs.proto == socket.IPPROTO_TCP and theirs.get_inheritable()
        assert asyncio.run(_nodelay_of_accepted(theirs)) == 1


def test_a_socket_not_made_for_tcp_keeps_nagles_algorithm() -> None:
    """What the test above guards against: a socket made without naming its protocol (as
    uvicorn made its own before 0.55) leaves Nagle's algorithm on for accepted connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as unnamed:
        unnamed.bind(("127.0.0.1", 0))
        assert unnamed.proto == 0
        assert asyncio.run(_nodelay_of_accepted(unnamed)) == 0


def test_each_worker_gets_a_socket_of_its_own_on_the_port() -> None:
    with shared_port("127.0.0.1", 0) as port:
        first, second = _handed_to_a_worker(port), _handed_to_a_worker(port)
        with first, second:
            assert type(first) is socket.socket and first.fileno() != second.fileno()
            assert first.getsockname() == second.getsockname() == port.getsockname()
            assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1


def test_connections_are_spread_over_the_workers_and_none_go_to_the_supervisor() -> None:
    with shared_port("127.0.0.1", 0) as port:
        workers = [_handed_to_a_worker(port) for _ in range(2)]
        for worker in workers:
            worker.listen(64)
            worker.setblocking(False)
        # a connection dealt to the supervisor's socket, which does not listen, would be refused
        clients = [socket.create_connection(port.getsockname(), timeout=5) for _ in range(48)]
        accepted = [0, 0]
        try:
            for _ in range(200):  # until all are accepted: each is queued once connect returns
                for n, worker in enumerate(workers):
                    try:
                        worker.accept()[0].close()
                        accepted[n] += 1
                    except BlockingIOError:
                        pass
                if sum(accepted) == len(clients):
                    break
        finally:
            for sock in (*clients, *workers):
                sock.close()
    # every connection reached a listening worker, dealt by address hash: each at least 6 of
    # 48 but for a chance of about 1 in 70 million
    assert sum(accepted) == 48 and min(accepted) >= 6, accepted


def test_a_port_in_use_is_refused() -> None:
    with listening_socket("127.0.0.1", 0) as taken:
        taken.listen()
        with pytest.raises(OSError) as refused:
            shared_port("127.0.0.1", taken.getsockname()[1])
        assert refused.value.errno == errno.EADDRINUSE
