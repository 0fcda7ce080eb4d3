"""A TCP proxy whose forwarding can be held: a replication link that stalls, as a congested
network does, while both servers keep answering."""

from __future__ import annotations

import selectors
import socket
import threading

from tests.conftest import free_port


class StallProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``; while ``held``, nothing is forwarded
    (bytes wait in the kernel's buffers)."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.held = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        client, _ = self._listener.accept()
                        upstream = socket.create_connection(("127.0.0.1", self.target_port))
                        peers[client], peers[upstream] = upstream, client
                        sel.register(client, selectors.EVENT_READ)
                        sel.register(upstream, selectors.EVENT_READ)
                        continue
                    if self.held.is_set() or sock not in peers:
                        continue
                    other = peers[sock]
                    try:
                        data = sock.recv(65536)
                        if data:
                            other.sendall(data)
                    except OSError:
                        data = b""
                    if not data:  # one end closed: close the other
                        for end in (sock, other):
                            sel.unregister(end)
                            peers.pop(end, None)
                            end.close()
                if self.held.is_set():
                    self._stop.wait(0.01)
        finally:
            for sock in peers:
                sock.close()
            sel.close()
