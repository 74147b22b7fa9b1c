#!/usr/bin/env python3
"""Test tool, run inside a container namespace: sends one Ethernet frame out
of IFACE (a raw AF_PACKET socket) from the interface's own MAC to DST_MAC,
EtherType 0x88b5 (IEEE local experimental), the payload TAG. For frames that
no IP socket sends on demand: a unicast to a MAC nobody has, a multicast
group address. SRC_MAC, when given, replaces the interface's MAC (a station
that claims another's address).

Usage: eth-send.py IFACE DST_MAC TAG [SRC_MAC]
"""
import socket
import sys

iface, dst, tag = sys.argv[1], sys.argv[2], sys.argv[3]
if len(sys.argv) > 4:
    src = bytes.fromhex(sys.argv[4].replace(':', ''))
else:
    with open(f'/sys/class/net/{iface}/address') as f:
        src = bytes.fromhex(f.read().strip().replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
s.send(bytes.fromhex(dst.replace(':', '')) + src + b'\x88\xb5' + tag.encode().ljust(46, b'\0'))
