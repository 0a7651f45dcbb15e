"""Reproduction of Hypercorn's second trio bug: its reader task sends the EOF outside
the lock that guards writes, racing the app's answer (``trio.BusyResourceError`` out of
the app's ``send``, logged as "Error in ASGI Framework" with a 3 KB traceback).

    python keepalive_app.py 2> server.log &   # then:
    python busy_client.py [port] [tries]      # then count: grep -c BusyResourceError server.log

Each try sends a request whose body is shorter than its ``content-length`` and
half-closes at once: h11 reports the incomplete body, Hypercorn answers 400 and closes
the socket in its reader task, while the app answers the request in its own task. A
race, so it is tried many times.
"""

import socket
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
TRIES = int(sys.argv[2]) if len(sys.argv) > 2 else 200

for _ in range(TRIES):
    sock = socket.create_connection(("127.0.0.1", PORT))
    sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nshort")
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()
print(f"{TRIES} tries sent")
