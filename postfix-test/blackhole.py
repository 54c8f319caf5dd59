#!/usr/bin/python3
"""A DNS server that never answers: the lab's zone that times out.

    blackhole.py PORT [LIFETIME_SECONDS]

Binds 127.0.0.1:PORT for UDP and TCP, reads every datagram and every TCP
connection and answers nothing (TCP connections stay open until the peer
closes them).  Logs one line per datagram or connection on stdout.  Exits by
itself after LIFETIME_SECONDS (default 900), so a forgotten one cannot linger.
"""
import select
import socket
import sys
import time


def main():
    port = int(sys.argv[1])
    lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 900.0
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(64)
    conns = []
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline:
        ready, _, _ = select.select([udp, tcp] + conns, [], [], 1.0)
        for s in ready:
            if s is udp:
                data, peer = udp.recvfrom(65535)
                print("udp %d bytes from %s:%d (not answered)" % (len(data), *peer), flush=True)
            elif s is tcp:
                conn, peer = tcp.accept()
                conns.append(conn)
                print("tcp connection from %s:%d (not answered)" % peer, flush=True)
            elif not s.recv(65535):
                conns.remove(s)
                s.close()


if __name__ == "__main__":
    main()
