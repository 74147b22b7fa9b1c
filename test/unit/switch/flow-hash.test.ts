import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowSourcePort, SOURCE_PORT_MIN } from '../../../src/switch/flow-hash';
import { ipv4Frame } from '../../helpers/frames';

const M1 = '02:76:0a:00:00:01';
const M2 = '02:76:0a:00:00:02';

test('the source port is in 49152-65535, stable per flow, and varies across flows', () => {
  const ports = new Set<number>();
  for (let sport = 40000; sport < 40064; sport++) {
    const f = ipv4Frame(M2, M1, '10.44.1.0', '10.44.2.0', 6, sport, 7777);
    const p = flowSourcePort(f, 0, f.length);
    assert.ok(p >= SOURCE_PORT_MIN && p <= 65535, `port ${p} out of range`);
    assert.equal(flowSourcePort(f, 0, f.length), p, 'same flow, same port');
    ports.add(p);
  }
  assert.ok(ports.size > 48, `64 flows gave only ${ports.size} distinct ports`);
});

test('payload bytes do not change the port (one flow, one path)', () => {
  const a = ipv4Frame(M2, M1, '10.44.1.0', '10.44.2.0', 17, 5000, 9999, 10);
  const b = ipv4Frame(M2, M1, '10.44.1.0', '10.44.2.0', 17, 5000, 9999, 500);
  b.fill(0x5a, b.length - 100);
  assert.equal(flowSourcePort(a, 0, a.length), flowSourcePort(b, 0, b.length));
});

test('a frame too short for its IPv4 header still hashes (on the MACs)', () => {
  const f = ipv4Frame(M2, M1, '10.44.1.0', '10.44.2.0', 6, 1, 2).subarray(0, 20);
  const p = flowSourcePort(f, 0, f.length);
  assert.ok(p >= SOURCE_PORT_MIN && p <= 65535);
});

test('the port depends on where the frame sits only through its bytes (offset-independent)', () => {
  const f = ipv4Frame(M2, M1, '10.44.1.0', '10.44.2.0', 6, 40001, 7777);
  const shifted = Buffer.concat([Buffer.alloc(64, 0xee), f]);
  assert.equal(flowSourcePort(shifted, 64, f.length), flowSourcePort(f, 0, f.length));
  // Same flow, other ports: differs (so the L4 ports are really read at offset 64).
  const g = Buffer.concat([Buffer.alloc(64, 0xee), ipv4Frame(M2, M1, '10.44.1.0', '10.44.2.0', 6, 40002, 7777)]);
  assert.notEqual(flowSourcePort(g, 64, f.length), flowSourcePort(shifted, 64, f.length));
});
