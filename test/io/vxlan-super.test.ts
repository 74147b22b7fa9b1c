/**
 * A kernel vxlan peer at its default offloads sends TSO super-frames across a
 * veth whole: vxtap's UDP socket then receives one VXLAN datagram of up to
 * 64 KB holding one TCP super-frame (partial checksum). The udp readers and
 * the dgram port cut it into finished segments, one VXLAN datagram per slot
 * (native/offload.h: ParseVxlanTcpSuper). Through the pure vxlanSplitSuper()
 * and a native Reader on a loopback socket; outputs checked with the
 * project's wire verifiers.
 */
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { test } from 'node:test';
import { loadAddon, type NativeReader } from '../../src/io/native';
import * as ipv4 from '../../src/wire/ipv4';
import * as tcp from '../../src/wire/tcp';
import { DST, HDR, L3, L4, SRC, TCP_HDR, superFrame } from './tso-frames';
import { until } from './frames';

const addon = loadAddon();
const SLOT = 1600;
const HEADROOM = 64;
const VX = Buffer.from('080000000000 2a00'.replace(' ', ''), 'hex'); // I flag, VNI 42
const MTU = 1450;

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + 5) & 0xff;
  return b;
}

/** Checks that frames (VXLAN header + frame each) are the finished segments of `payload` from seq0, each IP packet within `mtu`. */
function assertSegments(frames: Buffer[], payload: Buffer, seq0: number, mtu: number): void {
  let off = 0;
  frames.forEach((d, k) => {
    assert.deepEqual(d.subarray(0, 8), VX, `segment ${k}: the VXLAN header is copied`);
    const f = d.subarray(8);
    const ipLen = ipv4.totalLen(f, L3);
    assert.equal(ipLen, f.length - L3, `segment ${k}: IP length`);
    assert.ok(ipLen <= mtu, `segment ${k}: IP packet ${ipLen} > MTU ${mtu}`);
    assert.ok(ipv4.verifyChecksum(f, L3), `segment ${k}: IPv4 header checksum`);
    assert.ok(tcp.verifyChecksumIpv4(f, L4, ipLen - 20, SRC, DST), `segment ${k}: TCP checksum finished`);
    assert.equal(f.readUInt32BE(L4 + 4), (seq0 + off) >>> 0, `segment ${k}: sequence`);
    const last = k === frames.length - 1;
    assert.equal(f[L4 + 13], last ? tcp.FLAG_ACK | tcp.FLAG_PSH : tcp.FLAG_ACK, `segment ${k}: PSH on the last only`);
    const data = f.subarray(HDR);
    assert.deepEqual(data, payload.subarray(off, off + data.length), `segment ${k}: payload`);
    off += data.length;
  });
  assert.equal(off, payload.length, 'every payload byte, once');
}

test('vxlanSplitSuper: a VXLAN TCP super-datagram becomes finished segments that fit the overlay MTU, or the slot without one', () => {
  const payload = pattern(20000);
  const msg = Buffer.concat([VX, superFrame(payload, 5000, tcp.FLAG_ACK | tcp.FLAG_PSH)]);
  for (const [mtu, mss] of [[MTU, MTU - 20 - TCP_HDR], [0, SLOT - HEADROOM - 8 - HDR]] as const) {
    const slab = Buffer.alloc(32 * SLOT);
    const sizes = new Uint32Array(32);
    const n = addon.vxlanSplitSuper(msg, slab, SLOT, HEADROOM, 2, 32, sizes, mtu);
    assert.equal(n, Math.ceil(payload.length / mss), `mtu ${mtu}: segments of ${mss}`);
    const frames = Array.from({ length: n }, (_, k) => slab.subarray((2 + k) * SLOT + HEADROOM, (2 + k) * SLOT + HEADROOM + sizes[2 + k]!));
    assertSegments(frames, payload, 5000, mtu === 0 ? SLOT : mtu);
  }
});

test('vxlanSplitSuper: anything else is not cut (0, nothing written)', () => {
  const frame = superFrame(pattern(8000), 1, tcp.FLAG_ACK); // 6 segments at MTU 1450
  const noI = Buffer.from(VX);
  noI[0] = 0;
  const shortIp = Buffer.concat([VX, frame]);
  shortIp.writeUInt16BE(ipv4.totalLen(shortIp, 8 + L3) - 1, 8 + L3 + 2);
  const udp = Buffer.concat([VX, frame]);
  udp[8 + L3 + 9] = 17;
  const cases: Array<[string, Buffer, number]> = [
    ['no I flag', Buffer.concat([noI, frame]), 32],
    ['an IP length that is not the rest of the datagram', shortIp, 32],
    ['not TCP', udp, 32],
    ['more segments than free slots', Buffer.concat([VX, frame]), 4],
  ];
  for (const [what, msg, slots] of cases) {
    const slab = Buffer.alloc(32 * SLOT, 0xee);
    const sizes = new Uint32Array(32);
    assert.equal(addon.vxlanSplitSuper(msg, slab, SLOT, HEADROOM, 0, slots, sizes, MTU), 0, what);
    assert.ok(slab.every((b) => b === 0xee), `${what}: nothing written`);
  }
});

for (const kind of ['udp', 'udp-gro'] as const) {
  test(`a '${kind}' reader on a loopback socket cuts a super-datagram between two plain datagrams; a long one that is not is truncated`, async () => {
    const fd = addon.udpOpen('127.0.0.1', 0);
    const port = addon.localPort(fd);
    const slots = 8; // fewer than the segments: the rest fill the next batches
    const slab = Buffer.alloc(slots * SLOT);
    const sizes = new Uint32Array(slots);
    const names = Buffer.alloc(slots * 28);
    const got: Buffer[] = [];
    let reader: NativeReader | null = null;
    const sender = dgram.createSocket('udp4');
    try {
      reader = new addon.Reader({
        fd, kind, slab, slotSize: SLOT, headroom: HEADROOM, sizes, names, slots, mtu: MTU,
        onBatch: (n) => { for (let i = 0; i < n; i++) got.push(Buffer.from(slab.subarray(i * SLOT + HEADROOM, i * SLOT + HEADROOM + sizes[i]!))); },
        onError: (err) => { throw err; },
      });
      const payload = pattern(30000);
      const small = (b: number): Buffer => Buffer.concat([VX, Buffer.alloc(60, b)]);
      const send = (m: Buffer): Promise<void> => new Promise((resolve, reject) => sender.send(m, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      await send(small(1));
      await send(Buffer.concat([VX, superFrame(payload, 77, tcp.FLAG_ACK | tcp.FLAG_PSH)]));
      await send(Buffer.alloc(3000, 0x08)); // too long for a slot, and no super-frame
      await send(small(2));
      const segs = Math.ceil(payload.length / (MTU - 20 - TCP_HDR));
      assert.ok(await until(() => got.length >= segs + 2, 3000), `got ${got.length} frames`);
      assert.deepEqual(got[0], small(1));
      assertSegments(got.slice(1, 1 + segs), payload, 77, MTU);
      assert.deepEqual(got[1 + segs], small(2));
      assert.equal(reader.truncated, 1);
      assert.deepEqual([reader.offload.gsoFrames, reader.offload.segments], [1, segs]);
    } finally {
      reader?.stop();
      addon.close(fd);
      sender.close();
    }
  });
}
