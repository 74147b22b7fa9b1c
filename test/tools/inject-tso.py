#!/usr/bin/env python3
"""Hands one TCPv4 super-frame to a device as the kernel's TSO would: an
AF_PACKET socket with PACKET_VNET_HDR sends a virtio_net_hdr (GSO_TCPV4,
NEEDS_CSUM, gso_size = MSS) in front of one Ethernet + IPv4 + TCP frame that
holds SEGMENTS * MSS bytes of payload. Sent on a TAP, it leaves the kernel
towards the process that holds the TAP, as a TCP socket's super-frame would.
With an MSS larger than the TAP's MTU allows, it is the oversized TSO frame
of issue #9 (a frame bridged from a device with a larger MTU is another way
to get one).

  inject-tso.py DEV SRC_MAC DST_MAC SRC_IP DST_IP MSS SEGMENTS [DPORT]

Prints one JSON line: the bytes sent. Needs root (CAP_NET_RAW)."""
import json
import socket
import struct
import sys

SOL_PACKET = 263
PACKET_VNET_HDR = 15
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_GSO_TCPV4 = 1


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def main() -> None:
    dev, smac, dmac, sip, dip = sys.argv[1:6]
    mss, segs = int(sys.argv[6]), int(sys.argv[7])
    dport = int(sys.argv[8]) if len(sys.argv) > 8 else 5201
    payload = bytes((i * 7 + 1) & 0xff for i in range(mss * segs))
    tcp_len = 20 + len(payload)
    src, dst = socket.inet_aton(sip), socket.inet_aton(dip)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + tcp_len, 0x4242, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', ~csum(ip) & 0xffff) + ip[12:]
    # The partial checksum a TSO frame carries: the pseudo-header sum, folded, not inverted.
    pseudo = csum(src + dst + struct.pack('!BBH', 0, 6, tcp_len))
    tcp = struct.pack('!HHIIBBHHH', 40000, dport, 1000, 0, 5 << 4, 0x18, 65535, pseudo, 0)
    eth = bytes.fromhex(dmac.replace(':', '')) + bytes.fromhex(smac.replace(':', '')) + b'\x08\x00'
    frame = eth + ip + tcp + payload
    # struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (native endian).
    vnet = struct.pack('=BBHHHH', VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 14 + 20 + 20, mss, 14 + 20, 16)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((dev, 0))
    n = s.send(vnet + frame)
    s.close()
    print(json.dumps({'sent': n - len(vnet), 'mss': mss, 'segments': segs}))


main()
