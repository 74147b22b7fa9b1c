/**
 * /healthz and /readyz's answers (control/api/health.ts), with the clock and
 * the control plane's status handed in: a stall is remembered for a while,
 * readiness names every reason, etcd away past its grace is not ready.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Health } from '../../../src/control/api/health';
import type { ControlStatus } from '../../../src/control/network';

test('alive: a heartbeat gap over the threshold fails /healthz for the window, then it heals', () => {
  const h = new Health({ stallMs: 1000, stallWindowMs: 5000, beatMs: 60_000 });
  try {
    const t0 = Date.now();
    assert.deepEqual(h.alive(t0), { ok: true, reasons: ['ok'] });
    const late = h.alive(t0 + 3000); // 3 s without a beat: the loop was stalled
    assert.equal(late.ok, false);
    assert.match(late.reasons[0]!, /event loop stalled for 3\.0 s/);
    assert.equal(h.alive(t0 + 3500).ok, false, 'still within the window');
    assert.equal(h.alive(t0 + 3000 + 5001).ok, false, 'a 5 s gap is a stall of its own');
    const t1 = t0 + 8001;
    for (let t = t1; t <= t1 + 6000; t += 500) h.alive(t);
    assert.equal(h.alive(t1 + 6000).ok, true, 'beats every 0.5 s for longer than the window: healthy again');
  } finally {
    h.close();
  }
});

test('ready: every missing part is named; etcd away is tolerated for the grace period only', () => {
  const h = new Health({ etcdGraceMs: 30_000, beatMs: 60_000 });
  try {
    const now = Date.now();
    let r = h.ready(now);
    assert.equal(r.ok, false);
    assert.deepEqual(r.reasons, ['the TAP is not up yet', 'not joined to the network yet', 'the peers were not synced yet']);
    let status: ControlStatus = { lease: { held: true, subnet: '10.44.3.0/24', expiresAt: now + 1e6 }, etcd: { reachable: true, since: now - 1000, error: null } };
    h.control = () => status;
    h.tapUp = true;
    h.peersSynced = true;
    assert.deepEqual(h.ready(now), { ok: true, reasons: ['ok'] });
    status = { ...status, etcd: { reachable: false, since: now - 10_000, error: 'connect ECONNREFUSED' } };
    assert.equal(h.ready(now).ok, true, '10 s without etcd: still ready, forwarding goes on');
    status = { ...status, etcd: { reachable: false, since: now - 45_000, error: 'connect ECONNREFUSED' } };
    r = h.ready(now);
    assert.equal(r.ok, false);
    assert.match(r.reasons[0]!, /etcd unreachable for 45 s \(connect ECONNREFUSED\); forwarding goes on with the last known peers/);
    status = { lease: { held: false, subnet: '10.44.3.0/24', expiresAt: now }, etcd: { reachable: true, since: now, error: null } };
    assert.match(h.ready(now).reasons[0]!, /does not hold its lease \(10\.44\.3\.0\/24\)/);
    // A static file: no lease, no etcd, nothing to wait for.
    status = { lease: null, etcd: null };
    assert.equal(h.ready(now).ok, true);
  } finally {
    h.close();
  }
});
