#!/usr/bin/env python3
"""Test tool, run inside a container namespace: receives UDP datagrams on
0.0.0.0:PORT (so broadcasts to the subnet's or the limited broadcast address
arrive too) and prints one line per datagram, "PAYLOAD FROM-IP", flushed, so
the test can count copies. Prints "listening" once bound. Runs until killed.

Usage: bcast-recv.py PORT
"""
import socket
import sys

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(('0.0.0.0', port))
print('listening', flush=True)
while True:
    data, (ip, _) = s.recvfrom(2048)
    print(f"{data.decode(errors='replace')} {ip}", flush=True)
