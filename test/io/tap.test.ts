/**
 * TapPort over the addon, in network namespaces (Lab prefix vxt-tap-). The
 * scenarios run in test/io/child-tap.ts inside each namespace; these tests
 * set the scene and check the JSON each child prints.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as path from 'node:path';
import { Lab, needNamespaces } from '../helpers/netns';
import { addonPath } from '../../src/io/native';
import { asUser, runChild, withUserTun } from './child';

const lab = new Lab('vxt-tap-');
after(() => lab.cleanup());

const CHILD = path.join(__dirname, 'child-tap.js');
const NOBODY = 65534;
const OTHER_USER = 65533;

function tap(host: string, ...args: string[]): Record<string, unknown> {
  const r = runChild(lab, host, ['node', CHILD, ...args]);
  assert.equal(r.status, 0, `child ${args.join(' ')} failed (status ${r.status}): ${r.stderr}`);
  return r.result;
}

test('opens a TAP by name: nonblocking, close-on-exec, the device exists', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('name');
  const r = tap('name', 'open', 'vxtest0');
  assert.deepEqual(r, { ok: true, name: 'vxtest0', fd: r.fd, nonblock: true, cloexec: true, exists: true });
});

test('lets the kernel pick the name when it is empty; the TAP goes with its fd', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('pick');
  const r = tap('pick', 'open', '');
  assert.equal(r.ok, true);
  assert.match(String(r.name), /^tap\d+$/);
  assert.equal(r.exists, true);
  const links = lab.exec('pick', ['ip', '-j', 'link', 'show']);
  assert.ok(!links.includes(`"${String(r.name)}"`), 'a non-persistent TAP is gone once its fd is closed');
});

test('a persistent TAP made for nobody: nobody attaches, another user gets EPERM', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('user');
  // The child runs as nobody: it must be able to read the compiled JS and the addon.
  const readable = lab.tryExec('user', asUser(NOBODY, ['sh', '-c', 'test -r "$1" && test -r "$2"', 'sh', CHILD, addonPath]));
  assert.equal(readable.status, 0, `${CHILD} and ${addonPath} must be readable by uid ${NOBODY} (chmod -R o+rX the checkout)`);

  lab.exec('user', ['ip', 'tuntap', 'add', 'dev', 'vxpers0', 'mode', 'tap', 'user', 'nobody']);
  const asNobody = withUserTun(asUser(NOBODY, ['node', CHILD, 'attach', 'vxpers0']));
  if (asNobody.note !== null) t.diagnostic(asNobody.note);
  const ok = runChild(lab, 'user', asNobody.cmd);
  assert.deepEqual(ok.result, { ok: true, uid: NOBODY, name: 'vxpers0' }, ok.stderr);

  const other = runChild(lab, 'user', withUserTun(asUser(OTHER_USER, ['node', CHILD, 'attach', 'vxpers0'])).cmd);
  assert.equal(other.result.ok, false, other.stderr);
  assert.equal(other.result.sysErrno, 'EPERM');
  assert.equal(other.result.isSystemError, true);
  assert.equal(other.result.syscall, 'ioctl(TUNSETIFF)');
  assert.match(String(other.result.message), /^TUNSETIFF vxpers0: Operation not permitted \(EPERM\)$/);

  // Persistent: still there after both children closed their fds.
  assert.ok(lab.exec('user', ['ip', '-j', 'link', 'show', 'vxpers0']).includes('"vxpers0"'));
});

test('a second open of a busy TAP: EBUSY as a SystemError', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('busy');
  const r = tap('busy', 'busy', 'vxbusy0');
  assert.equal(r.ok, false);
  assert.equal(r.isSystemError, true);
  assert.equal(r.sysErrno, 'EBUSY');
  assert.equal(r.code, 'VXTAP_ERR_SYS_EBUSY');
  assert.equal(r.syscall, 'ioctl(TUNSETIFF)');
  assert.equal(r.message, 'TUNSETIFF vxbusy0: Device or resource busy (EBUSY)');
});

test('a name over 15 bytes: EINVAL, with the limit in the message', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('long');
  const r = tap('long', 'open', 'a-name-of-16-chr');
  assert.equal(r.ok, false);
  assert.equal(r.sysErrno, 'EINVAL');
  assert.match(String(r.message), /at most 15 bytes, this one has 16/);
});

test('reads a burst in batches: sizes right, headroom untouched, fewer calls than frames', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('read');
  const r = tap('read', 'read-burst');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.udp, 50, 'all 50 datagrams came out of the TAP');
  assert.equal(r.sizesOk, true, 'each frame is 14 + 20 + 8 + 100 bytes');
  assert.equal(r.headroomOk, true, 'the bytes before each frame keep the marker');
  const batches = r.batches as number[];
  assert.ok(batches.length < 50, `${batches.length} onBatch calls for 50 frames`);
  assert.ok(Math.max(...batches) === 16, `full batches of 16 slots: ${batches.join(',')}`);
  assert.equal(r.truncated, 0);
});

test('drops and counts frames longer than a slot; a frame that fits exactly is kept', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('trunc');
  const r = tap('trunc', 'truncate');
  assert.deepEqual(r, { ok: true, sizes: [52, 112], truncated: 2 });
});

test('writes a batch: the kernel counts it and answers; a runt and a down link are drops', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('write');
  const r = tap('write', 'write-echo');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.writtenWhileDown, 0);
  assert.equal(r.downError, 'EIO');
  assert.equal(r.count, 7);
  assert.equal(r.written, 6, 'six echo requests written, the 5-byte runt refused');
  assert.deepEqual(r.stats, { rxTruncated: 0, rxErrors: 0, txSkipped: 2, lastTxError: 'EINVAL', csumRepaired: 0 });
  assert.ok((r.rxDelta as number) >= 6, `rx packets +${String(r.rxDelta)}`);
  assert.deepEqual(r.replies, [1, 2, 3, 4, 5, 6]);
});

test('stops mid-stream (inside onBatch and from a timer), closes twice, and the process exits by itself', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('stop');
  const run = runChild(lab, 'stop', ['node', CHILD, 'stop-mid'], 10);
  assert.notEqual(run.status, 124, 'the child did not exit by itself: a handle is left open');
  assert.equal(run.status, 0, run.stderr);
  const r = run.result;
  assert.equal(r.callsA, 1, 'close() inside onBatch: no further batch of the burst');
  assert.equal(r.callsAfterStop, r.callsAtStop, 'stop(): no call after it');
  assert.equal(r.fdAfterClose, -1);
});

test('the device is deleted under a running reader: a fatal EBADFD reaches onError, reading stops', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('del');
  const r = tap('del', 'deleted');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.deepEqual(r.errors, [{ errno: 'EBADFD', syscall: 'read', fatal: true, isSystemError: true }]);
});

test('an exception thrown in onBatch reaches the process as uncaughtException', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('throw');
  const r = tap('throw', 'throw-in-batch');
  assert.deepEqual(r, { ok: true, caught: ['boom 1'], calls: true });
});

test('offloads: vnet header on, partial checksums completed, writes answered; refusal is a value, not a throw', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('offload');
  const r = tap('offload', 'offload');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.deepEqual(r.plain, { enabled: false, reason: 'not requested' });
  assert.deepEqual(r.offload, { enabled: true, reason: 'on: TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6' });
  assert.equal(r.refused, 'EINVAL', 'an unknown TUNSETOFFLOAD flag');
  assert.equal(r.written, 3);
  assert.deepEqual(r.replies, [1, 2, 3], 'frames written behind a zeroed virtio_net_hdr are taken and answered');
  assert.equal(r.udp, 10);
  assert.equal(r.udpChecksumsOk, true, 'every UDP checksum is finished and right');
  assert.ok((r.csumCompleted as number) >= 10, `the kernel left partial checksums: ${String(r.csumCompleted)} completed`);
});

for (const mode of ['plain', 'offload'] as const) {
  test(`partial checksums written to a ${mode} TAP (${mode === 'plain' ? 'finished in the addon' : 'NEEDS_CSUM'}) are taken by the kernel and counted; wrong ones are dropped by it`, (t) => {
    if (!needNamespaces(t)) return;
    lab.addNs(`pc-${mode}`);
    const r = tap(`pc-${mode}`, 'partial-csum', mode);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.offload, mode === 'offload');
    assert.equal(r.written, 6);
    assert.deepEqual(r.udp, ['finished', 'none', 'partial'], 'the socket got the partial, finished and checksum-less datagrams');
    assert.deepEqual(r.synAcks, [40002], 'the SYN with a partial checksum was answered, the wrong one not');
    assert.deepEqual(r.csumErrors, { udp: 1, tcp: 1 }, 'the kernel dropped the two wrong ones for their checksum');
    assert.equal(r.csumRepaired, 2, 'the UDP datagram and the SYN');
  });
}

for (const mode of ['plain', 'offload'] as const) {
  test(`issue #10: a ${mode} TAP write of [runt, 60 B, 60 B] returns 2 with the error on entry 0 (status), and the pcap records entries 1 and 2, not the runt`, (t) => {
    if (!needNamespaces(t)) return;
    lab.addNs(`ws-${mode}`);
    const r = tap(`ws-${mode}`, 'write-status', mode);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.offload, mode === 'offload');
    assert.deepEqual(r.lens, [5, 60, 60]);
    assert.equal(r.written, 2, 'the count alone reads as "entries 0 and 1": it would blame entry 2');
    assert.deepEqual(r.status, [r.einval, 0, 0], 'the runt refused (EINVAL), both echo requests written');
    assert.deepEqual(r.portStats, { txSkipped: 1, lastTxError: 'EINVAL' });
    assert.equal(r.viaPcap, 2);
    assert.deepEqual(r.pcapWritten, ['echo 3', 'echo 4'], 'the pcap holds the two frames the TAP took, not the runt');
    assert.deepEqual(r.replies, [1, 2, 3, 4], 'the kernel answered every frame the status calls written');
  });
}
