"""The API benchmark's HTTP client (benchmarks/api_drive.py: ``Connection``) against a real
socket server: answers by length and chunked, several on one connection, a server that closes
it (saying so, or silently while the connection is idle), an answer it cannot read."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from api_drive import Connection, HttpError

ANSWERS = {
    b"/length": b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Type: text/plain\r\n\r\n"
                b"{\"a\":1}",
    b"/chunked": b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"4\r\n{\"a\"\r\n3;x=y\r\n:2}\r\n0\r\n\r\n",
    b"/close": b"HTTP/1.1 503 Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
    b"/nolength": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
    # answered as keep-alive, then the connection closed while idle (uvicorn's keep-alive timeout)
    b"/idle": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
}


async def _exchange() -> tuple[list[object], list[bytes], int]:
    bodies: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            bodies.append(await reader.readexactly(length))
            path = head.split(b" ")[1]
            writer.write(ANSWERS[path])
            await writer.drain()
            if path == b"/idle":
                await asyncio.sleep(0.05)  # idle a moment, then close without a word
            if path in (b"/close", b"/idle"):
                break
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Connection(f"http://127.0.0.1:{port}")
    got: list[object] = []
    try:
        for path in ("/length", "/chunked", "/close", "/idle", "/length", "/nolength"):
            try:
                got.append(await client.post(path, f"body {path}".encode(), {"x-test": "1"}))
                if path == "/idle":  # the client sends its next request after the close
                    await asyncio.sleep(0.2)
            except HttpError as error:
                got.append(str(error))
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
    return got, bodies, connections


def test_the_drivers_connection_reads_every_kind_of_answer() -> None:
    got, bodies, connections = asyncio.run(_exchange())
    assert got == [(200, b'{"a":1}'), (201, b'{"a":2}'), (503, b"no"), (200, b"ok"),
                   (200, b'{"a":1}'), "an answer without a length (HTTP 200)"]
    assert bodies == [f"body {p}".encode() for p in
                      ("/length", "/chunked", "/close", "/idle", "/length", "/nolength")]
    # one until the server said close, one it closed while idle, then a new one: the request
    # sent on the closed connection went again on the new one
    assert connections == 3


def test_a_server_not_there_is_a_connection_error() -> None:
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(Connection("http://127.0.0.1:1").post("/graphql", b"{}", {}))
