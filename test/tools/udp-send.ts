/**
 * Test tool, run inside a namespace: sends datagrams (hex payloads) from
 * srcIp (any port) to dstIp:dstPort, one per hex argument, then exits.
 * Usage: udp-send SRC_IP DST_IP DST_PORT HEX [HEX...]
 */
import { createSocket } from 'node:dgram';

const [srcIp, dstIp, portText, ...payloads] = process.argv.slice(2);
const sock = createSocket('udp4');
sock.bind(0, srcIp, async () => {
  for (const hex of payloads) {
    await new Promise<void>((resolve, reject) => sock.send(Buffer.from(hex, 'hex'), Number(portText), dstIp, (err) => (err ? reject(err) : resolve())));
  }
  sock.close();
});
