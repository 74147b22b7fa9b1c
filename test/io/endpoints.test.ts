/**
 * The endpoint record and the pool send request are each written twice,
 * once per language: io/endpoints.ts (EP_*) and native/endpoints.h (kEp*),
 * io/udp-pool.ts (PS_*) and native/pool-send.h (kPs*). The addon says what
 * it was built with; it must be what the JS side writes. Then the records
 * go through the kernel: sends on loopback to records as they are (msg_name
 * = the record, its length from its family), one refused per entry when its
 * record is empty, and UDP GSO runs grouped by endpoint index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import {
  AF_INET, AF_INET6, EP_ADDR4, EP_ADDR6, EP_FAMILY, EP_FLOWINFO6, EP_PORT, EP_RECORD, EP_SCOPE6, EndpointTable,
} from '../../src/io/endpoints';
import { loadAddon } from '../../src/io/native';
import { SENT, SendList } from '../../src/io/port';
import * as ps from '../../src/io/udp-pool';
import { parseIpv4 } from '../../src/wire/addr';

const LOOPBACK = parseIpv4('127.0.0.1');

test('endpoints: the addon\'s record layout is io/endpoints.ts\'s', () => {
  assert.deepEqual(loadAddon().endpointFields, {
    record: EP_RECORD, family: EP_FAMILY, port: EP_PORT, addr4: EP_ADDR4, flowinfo6: EP_FLOWINFO6, addr6: EP_ADDR6, scope6: EP_SCOPE6,
    afInet: AF_INET, afInet6: AF_INET6,
  });
});

test('pool send: the addon\'s request slots are io/udp-pool.ts\'s', () => {
  assert.deepEqual(loadAddon().poolSendFields, {
    fds: ps.PS_FDS, slab: ps.PS_SLAB, starts: ps.PS_STARTS, lens: ps.PS_LENS, endpoints: ps.PS_ENDPOINTS, eps: ps.PS_EPS,
    srcPorts: ps.PS_SRC_PORTS, aux: ps.PS_AUX, whole: ps.PS_WHOLE, wholeOf: ps.PS_WHOLE_OF, errOut: ps.PS_ERR_OUT,
    gsoOut: ps.PS_GSO_OUT, status: ps.PS_STATUS, scalars: ps.PS_SCALARS, refs: ps.PS_REFS,
    count: ps.PS_COUNT, gso: ps.PS_GSO, portMin: ps.PS_PORT_MIN, scalarSlots: ps.PS_SCALAR_SLOTS,
  });
});

/** A loopback receiver that keeps [payload length, sender port] per datagram. */
async function receiver(): Promise<{ socket: dgram.Socket; port: number; got: [number, number][]; wait: (n: number) => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  const got: [number, number][] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (m, r) => {
    got.push([m.length, r.port]);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const wait = async (n: number): Promise<void> => {
    while (got.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { socket, port: socket.address().port, got, wait };
}

test('udpSend: each entry goes to its record as it is; one the kernel refuses (port 0) is refused alone; an empty record is a RangeError', async () => {
  const a = loadAddon();
  const r = await receiver();
  const fd = a.udpOpen('127.0.0.1', 0);
  try {
    const table = new EndpointTable();
    const to = table.intern(LOOPBACK, r.port);
    const zero = table.intern(LOOPBACK, 0);
    const slab = Buffer.alloc(300, 0x61);
    const eps = Int32Array.of(to, zero, to);
    const status = new Int32Array(3);
    const errOut = new Int32Array(2);
    const sent = a.udpSend(fd, slab, Uint32Array.of(0, 100, 200), Uint32Array.of(10, 20, 30), table.buf, eps, 3, errOut, status);
    assert.equal(sent, 2);
    assert.equal(status[0], SENT);
    assert.equal(a.errnoName(status[1]!), 'EINVAL', 'port 0: the kernel refuses that message, not the batch');
    assert.equal(status[2], SENT);
    assert.deepEqual([...errOut], [1, status[1]]);
    await r.wait(2);
    const local = a.localPort(fd);
    assert.deepEqual(r.got, [[10, local], [30, local]]);
    assert.throws(() => a.udpSend(fd, slab, Uint32Array.of(0), Uint32Array.of(10), table.buf, Int32Array.of(table.capacity), 1), /names no record/);
    table.release(zero); // its record is cleared (family 0): sending to it is a caller's bug
    assert.throws(() => a.udpSend(fd, slab, Uint32Array.of(0), Uint32Array.of(10), table.buf, Int32Array.of(zero), 1), /names an empty record/);
  } finally {
    a.close(fd);
    r.socket.close();
  }
});

test('PoolSend: bound once, it sends from the pool socket of each srcPort to each endpoint, a GSO run per endpoint index', async () => {
  const a = loadAddon();
  const r1 = await receiver();
  const r2 = await receiver();
  const pool = ps.openSendPool(a, '127.0.0.1', { count: 2 });
  try {
    const errOut = new Int32Array(2);
    const gso = new ps.GsoPolicy(true);
    const send = new ps.PoolSend(a, pool, errOut, gso.out);
    const list = new SendList(8);
    const slab = Buffer.alloc(8 * 512);
    const push = (k: number, ep: number, size: number, src: number): void => {
      slab.fill(k, k * 512, k * 512 + size);
      list.push(k * 512, size, ep, src); // the first 8 bytes stand for the UDP header the pool skips
    };
    const e1 = list.endpoints.intern(LOOPBACK, r1.port);
    const e2 = list.endpoints.intern(LOOPBACK, r2.port);
    for (let k = 0; k < 3; k++) push(k, e1, 200, pool.min);
    push(3, e2, 200, pool.min + 1);
    push(4, e1, 100, pool.min + 1);
    assert.equal(send.send(slab, list, gso.gsoArg()), 5);
    assert.deepEqual([...list.status.subarray(0, 5)], [0, 0, 0, 0, 0]);
    await r1.wait(4);
    await r2.wait(1);
    assert.deepEqual(r1.got, [[192, pool.min], [192, pool.min], [192, pool.min], [92, pool.min + 1]]);
    assert.deepEqual(r2.got, [[192, pool.min + 1]]);
    gso.afterSend((e) => a.errnoName(e));
    assert.deepEqual([gso.counters.messages, gso.counters.datagrams], [1, 3], 'one GSO message: the run of three to e1 from one port');
    // The same request sends again with no new binding; an index outside the table is refused before any send.
    list.count = 0;
    list.push(0, 50, 99, pool.min);
    assert.throws(() => send.send(slab, list, 0), /names no record/);
  } finally {
    ps.closeSendPool(a, pool);
    r1.socket.close();
    r2.socket.close();
  }
});
