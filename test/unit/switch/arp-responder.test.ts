import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArpTable } from '../../../src/switch/arp-table';
import { answerArpInPlace } from '../../../src/switch/arp-responder';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest } from '../../helpers/frames';

test('an ARP request for a known address becomes its reply in place (golden bytes)', () => {
  const table = new ArpTable();
  table.set(parseIpv4('10.44.2.0'), macKeyFromString('f6:ad:73:33:de:0b'));
  const frame = arpRequest('aa:aa:aa:aa:aa:01', '10.44.1.0', '10.44.2.0');
  const answered = answerArpInPlace(frame, 0, frame.length, 14, table);
  assert.equal(answered, macKeyFromString('f6:ad:73:33:de:0b'));
  // Ethernet: dst = asker, src = answer, type ARP; ARP: 1/0800/6/4, op 2,
  // sender = (f6:ad:.., 10.44.2.0), target = (aa:..:01, 10.44.1.0).
  const golden = Buffer.from(
    'aaaaaaaaaa01' + 'f6ad7333de0b' + '0806' +
    '0001' + '0800' + '06' + '04' + '0002' +
    'f6ad7333de0b' + '0a2c0200' +
    'aaaaaaaaaa01' + '0a2c0100', 'hex');
  assert.deepEqual(frame, golden);
});

test('an ARP request for an unknown address is left untouched', () => {
  const table = new ArpTable();
  const frame = arpRequest('aa:aa:aa:aa:aa:01', '10.44.1.0', '10.44.9.0');
  const before = Buffer.from(frame);
  assert.equal(answerArpInPlace(frame, 0, frame.length, 14, table), -1);
  assert.deepEqual(frame, before);
});

test('an ARP reply is not answered, and a truncated ARP is not read past its end', () => {
  const table = new ArpTable();
  table.set(parseIpv4('10.44.2.0'), macKeyFromString('f6:ad:73:33:de:0b'));
  const reply = arpRequest('aa:aa:aa:aa:aa:01', '10.44.1.0', '10.44.2.0');
  reply[14 + 7] = 2;
  assert.equal(answerArpInPlace(reply, 0, reply.length, 14, table), -1);
  const short = arpRequest('aa:aa:aa:aa:aa:01', '10.44.1.0', '10.44.2.0');
  assert.equal(answerArpInPlace(short, 0, 14 + 20, 14, table), -1);
});
