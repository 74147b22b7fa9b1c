#!/usr/bin/env python3
"""Test tool, run inside a container namespace: sends COUNT Ethernet frames
out of IFACE through a raw AF_PACKET socket, each from a different random
source MAC (locally administered, unicast: first byte 0x02 | random bits,
multicast bit clear) to the broadcast address, EtherType 0x88b5 (IEEE local
experimental). A bridge floods them, so every VTEP behind it sees them and
tries to learn each source: what an FDB limit is for. SEED makes the MACs
repeatable.

Usage: mac-flood.py IFACE COUNT SEED
"""
import random
import socket
import sys

iface, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
payload = b'vxtap mac flood'.ljust(46, b'\0')
for _ in range(count):
    src = bytes([0x02 | (rng.randrange(256) & 0xfc)] + [rng.randrange(256) for _ in range(5)])
    s.send(b'\xff' * 6 + src + b'\x88\xb5' + payload)
