import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dockerOpts, firstAddress, formatSubnetFile, parseSubnetFile, readSubnetFile, writeSubnetFile,
} from '../../../src/control/etcd/subnet-file';

const EXPECTED = 'FLANNEL_NETWORK=10.44.0.0/16\nFLANNEL_SUBNET=10.44.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-subnetfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('subnet file: flannel\'s four lines, FLANNEL_SUBNET is the first address', () => {
  assert.equal(formatSubnetFile({ network: '10.44.0.0/16', subnet: '10.44.3.0/24', mtu: 1450 }), EXPECTED);
  assert.match(formatSubnetFile({ network: '10.44.0.0/16', subnet: '10.44.3.0/24', mtu: 1450, ipMasq: true }), /FLANNEL_IPMASQ=true/);
  assert.equal(firstAddress('10.44.3.64/26'), '10.44.3.65/26');
  assert.throws(() => formatSubnetFile({ network: '10.44.0.0/16', subnet: '10.45.3.0/24', mtu: 1450 }), RangeError);
  assert.throws(() => formatSubnetFile({ network: '10.44.0.0/16', subnet: '10.44.3.0/24', mtu: 10 }), RangeError);
});

test('subnet file: written atomically (no temp file left), read back, directory created', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'run', 'vxtap', 'subnet.env');
  writeSubnetFile(path, { network: '10.44.0.0/16', subnet: '10.44.3.0/24', mtu: 1450 });
  assert.equal(readFileSync(path, 'utf8'), EXPECTED);
  assert.equal(statSync(path).mode & 0o777, 0o644);
  assert.deepEqual(readdirSync(join(dir, 'run', 'vxtap')), ['subnet.env']);
  assert.deepEqual(readSubnetFile(path), {
    network: '10.44.0.0/16', subnet: '10.44.3.0/24', address: '10.44.3.1/24', mtu: 1450, ipMasq: false,
  });
  // Rewritten: replaced whole, mode kept.
  chmodSync(path, 0o600);
  writeSubnetFile(path, { network: '10.44.0.0/16', subnet: '10.44.7.0/24', mtu: 1400 });
  assert.equal(readSubnetFile(path)!.subnet, '10.44.7.0/24');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(dir, 'run', 'vxtap')), ['subnet.env']);
});

test('subnet file: a missing file is null; a file flannel (or a person) wrote is read', (t) => {
  const dir = tempDir(t);
  assert.equal(readSubnetFile(join(dir, 'none.env')), null);
  const path = join(dir, 'flannel.env');
  writeFileSync(path, '# from flannel\nexport FLANNEL_NETWORK="10.44.0.0/16"\nFLANNEL_SUBNET=10.44.12.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\nJUNK\n');
  assert.deepEqual(readSubnetFile(path), {
    network: '10.44.0.0/16', subnet: '10.44.12.0/24', address: '10.44.12.1/24', mtu: 1450, ipMasq: true,
  });
  assert.deepEqual(parseSubnetFile('FLANNEL_SUBNET=banana\nFLANNEL_MTU=x\n'), {});
});

test('dockerOpts: --bip is the first address, then the MTU', () => {
  assert.equal(dockerOpts('10.44.3.0/24', 1450), '--bip=10.44.3.1/24 --mtu=1450');
});
