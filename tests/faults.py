"""A TCP proxy in front of the real database that can break connections on demand.

Each of the next `n` operations a client sends is answered by resetting its connection
(an RST, as when a database restarts or a network drops): before it reaches the database,
or, with `answered=False`, after the database did it, losing only its answer. The
driver's handshakes and heartbeats (`hello`) always pass, so the failures land on the
platform's own reads and writes, as a dropped connection in the middle of a request does.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HANDSHAKES = (b"hello\x00", b"isMaster\x00", b"ismaster\x00")


class ResettingProxy:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._failures = 0
        self._lose_answers = False
        self._guard = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resetting-proxy", daemon=True)
        self.port = 0
        self.resets = 0

    def fail_next(self, operations: int, *, answered: bool = True) -> None:
        """Reset the connection of each of the next `operations` operations (0: none);
        `answered=False`: only once the database has done the operation."""
        with self._guard:
            self._failures = operations
            self._lose_answers = not answered

    @contextmanager
    def running(self) -> Iterator[ResettingProxy]:
        self._thread.start()
        self._ready.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _shut_down(self) -> None:
        """End every connection's tasks before the loop stops."""
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    def _take_failure(self, chunk: bytes) -> str | None:
        """None to pass the chunk on; "before" or "after" (the database did it) to fail."""
        if any(h in chunk[:64] for h in HANDSHAKES):
            return None
        with self._guard:
            if self._failures <= 0:
                return None
            self._failures -= 1
            self.resets += 1
            return "after" if self._lose_answers else "before"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            _reset(writer)
            return
        lose_answer = asyncio.Event()
        upstream = asyncio.ensure_future(self._answers(up_reader, writer, lose_answer))
        try:
            while chunk := await reader.read(65536):
                failure = self._take_failure(chunk)
                if failure == "before":
                    _reset(writer)
                    break
                if failure == "after":
                    lose_answer.set()
                up_writer.write(chunk)
                await up_writer.drain()
        except ConnectionError:
            pass
        finally:
            if not lose_answer.is_set():
                upstream.cancel()
            await asyncio.gather(upstream, return_exceptions=True)
            up_writer.close()
            writer.close()

    async def _answers(
        self, source: asyncio.StreamReader, client: asyncio.StreamWriter, lose: asyncio.Event
    ) -> None:
        """Pass the database's answers on; once told to lose one, reset instead."""
        try:
            while chunk := await source.read(65536):
                if lose.is_set():
                    _reset(client)
                    return
                client.write(chunk)
                await client.drain()
        except ConnectionError:
            return


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN: the peer sees `connection reset`."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
