#!/usr/bin/env python3
"""Sends one UDP datagram over IPv6 from a raw socket, writing the UDP
header itself, so that its checksum can be 0 (invalid over IPv6: RFC 8200
section 8.1, unless the receiver allows it, RFC 6935/6936) or the correct
one. The kernel writes the IPv6 header (a raw IPv6 socket does not compute
an IPPROTO_UDP checksum unless IPV6_CHECKSUM asks: it is not set here).

  udp6-send.py SRC DST SRC_PORT DST_PORT zero|good HEX_PAYLOAD

Prints {"ok": true, "checksum": N}. Needs CAP_NET_RAW."""
import json
import socket
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
sport, dport = int(sys.argv[3]), int(sys.argv[4])
mode = sys.argv[5]
payload = bytes.fromhex(sys.argv[6])
length = 8 + len(payload)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    c = ~s & 0xffff
    return c if c != 0 else 0xffff  # 0 means "no checksum": a computed 0 is sent as 0xffff


csum = 0
if mode == 'good':
    pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + struct.pack('!IxxxB', length, socket.IPPROTO_UDP)
    csum = checksum(pseudo + struct.pack('!HHHH', sport, dport, length, 0) + payload)
elif mode != 'zero':
    sys.exit('mode must be zero or good')
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.bind((src, 0))
s.sendto(struct.pack('!HHHH', sport, dport, length, csum) + payload, (dst, 0))
s.close()
print(json.dumps({'ok': True, 'checksum': csum}))
