/**
 * Which namespace `vxtap explain` asks the kernel's route in: the daemon's,
 * as its socket path names it (control/api/paths.ts), or it refuses and says
 * how to run it there. And `vxtap lab explain` refuses the flags that would
 * pick another daemon than the host's (they used to be ignored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkKernelNamespace } from '../../../src/cli/explain-cmd';
import { socketNetns } from '../../../src/control/api/paths';
import { ConfigError } from '../../../src/errors';
import { labExplain } from '../../../src/lab/explain';
import type { LabState } from '../../../src/lab/state';

test('socketNetns: the namespace a control socket\'s path names', () => {
  assert.equal(socketNetns('/run/vxtap/netns/vxt-lab-h1/vxtap.1.sock'), 'vxt-lab-h1');
  assert.equal(socketNetns('/run/vxtap/vxtap.1.sock'), null, 'the host\'s (unnamed)');
  assert.equal(socketNetns('/run/vxtap/netns/../vxtap.1.sock'), null, 'resolved first');
  assert.equal(socketNetns('/tmp/ctl.sock'), undefined, 'elsewhere: the path says nothing');
  assert.equal(socketNetns('/run/vxtap/netns/a/b/x.sock'), undefined);
});

test('checkKernelNamespace: the same namespace or an unknown one is asked; another is refused, naming both and the ip netns exec to run', () => {
  checkKernelNamespace('/run/vxtap/netns/h1/vxtap.1.sock', 'h1');
  checkKernelNamespace('/run/vxtap/vxtap.1.sock', null);
  checkKernelNamespace('/tmp/ctl.sock', 'h1');
  assert.throws(() => checkKernelNamespace('/run/vxtap/netns/h1/vxtap.1.sock', null), (e: unknown) =>
    e instanceof ConfigError && e.code === 'VXTAP_ERR_CONFIG' &&
    /runs in network namespace h1, this command in the host's \(unnamed\) network namespace: .*ip netns exec h1 vxtap explain/.test(e.message));
  assert.throws(() => checkKernelNamespace('/run/vxtap/vxtap.1.sock', 'h2'), (e: unknown) =>
    e instanceof ConfigError && /runs in the host's \(unnamed\) network namespace, this command in network namespace h2/.test(e.message));
  assert.throws(() => checkKernelNamespace('/run/vxtap/netns/h1/vxtap.1.sock', 'h2'), (e: unknown) => e instanceof ConfigError && /ip netns exec h1/.test(e.message));
});

test('lab explain refuses --tap and --control-socket with a ConfigError naming the flag (before it runs anything)', () => {
  const st = { hosts: [{ name: 'h1', ns: 'vxF-nonexistent-h1', kind: 'vxtap', socket: '/run/vxtap/netns/vxF-nonexistent-h1/vxtap.1.sock' }] } as unknown as LabState;
  assert.throws(() => labExplain(st, 'h1', { fromTap: 'icmp 10.44.1.2 > 10.44.2.2', tap: 'vxtap.9' }),
    (e: unknown) => e instanceof ConfigError && /lab explain takes no --tap/.test(e.message) && e.field === 'tap');
  assert.throws(() => labExplain(st, 'h1', { fromTap: 'icmp 10.44.1.2 > 10.44.2.2', controlSocket: '/tmp/x.sock' }),
    (e: unknown) => e instanceof ConfigError && /lab explain takes no --control-socket/.test(e.message) && e.field === 'control-socket');
});
