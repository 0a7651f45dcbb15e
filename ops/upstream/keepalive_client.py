"""The reproduction's client: four symptoms, each on its own connection, deterministic.

    python keepalive_client.py [port]    # against keepalive_app.py; exits 1 if any shows

1. A POST answered before its body arrived: the body and a second request follow on
   the same connection. Expected: an answer to the second request, or the connection
   closed. Seen: neither, ever (the client waits until its own timeout).
2. ``Connection: close``: expected the server to close after the answer. Seen: open.
3. HTTP/1.0 without keep-alive: the same.
4. An idle keep-alive connection after one answer: expected closed after
   ``keep_alive_timeout`` (5 s). Seen: open for good.
"""

import socket
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
WAIT = 8.0  # seconds: past the keep-alive timeout of 5 s


def read(sock: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What arrives within ``seconds``, and whether the server closed the connection."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return data, False
    return data, True


def connect() -> socket.socket:
    return socket.create_connection(("127.0.0.1", PORT))


def answers(data: bytes) -> int:
    return data.count(b"HTTP/1.1 ")


def main() -> int:
    failures = 0

    sock = connect()  # 1
    sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n")
    first, _ = read(sock, 1.0)  # the answer comes before the body is sent
    sock.sendall(b"hello" + b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    second, closed = read(sock, WAIT)
    ok = closed or answers(second) == 1
    failures += not ok
    print(
        f"1. answer before body, then a second request: answers {answers(first)} + "
        f"{answers(second)}, closed={closed} -> {'ok' if ok else 'HANGS'}"
    )

    cases = [
        ("2. Connection: close", b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
        ("3. HTTP/1.0", b"GET / HTTP/1.0\r\n\r\n"),
        ("4. idle after one answer", b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"),
    ]
    for label, raw in cases:
        sock = connect()
        sock.sendall(raw)
        data, closed = read(sock, WAIT)
        failures += not closed
        print(
            f"{label}: answers {answers(data)}, closed within {WAIT:.0f} s={closed}"
            f" -> {'ok' if closed else 'LEFT OPEN'}"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
