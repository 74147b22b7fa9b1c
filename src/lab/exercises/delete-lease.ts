/**
 * delete-lease (routed): the learner deletes h2's lease key in etcd. The
 * other vxtap hosts see the delete in their watch and remove h2's route, ARP
 * and FDB entry (installer: "removing 1 subnet: ..."); h2's lease keeper sees
 * its own key gone and takes the same subnet again at once ("lease of ...
 * deleted; taking it again"), so the others add it back. The lab puts
 * itself back; the exercise checks that it did (key, routes).
 */
import { sleep } from '../procs';
import { etcdctl, ETCD_PREFIX } from '../etcd';
import { ETCDCTL_BIN } from '../prereq';
import type { HostState } from '../state';
import { leasesIn } from '../vxtap';
import { needHosts, watchStep } from './common';
import { linesSince, sizeOf } from './evidence';
import type { Exercise } from './types';

/** How long the lab has to put itself back after the evidence. */
const RESTORE_WAIT_MS = 20_000;

export const deleteLease: Exercise = {
  name: 'delete-lease',
  modes: ['routed'],
  teaches: 'a lease deleted in etcd: every host drops the route to it, and its owner takes it again',
  async setUp(ctx) {
    const hs = needHosts(ctx.st, 2, 'delete-lease', ctx.flags);
    const observers = hs.filter((_, i) => i !== 1);
    const owner = hs[1]!;
    const others = ctx.st.hosts.filter((h) => h.kind === 'vxtap' && h !== owner && h.log !== null);
    const subnet = owner.subnet!;
    const key = `${ETCD_PREFIX}/subnets/${subnet.replace('/', '-')}`;
    const place = { ...ctx.st.etcd, peerUrl: '' };
    const value = etcdctl(ctx.sh, place, ['get', key, '--print-value-only'], true).trim();
    const routeOn = (h: HostState): boolean => ctx.sh.tryRun('ip', ['-n', h.ns, 'route', 'show', subnet, 'dev', ctx.st.tap]).stdout.trim() !== '';
    const marks = new Map(ctx.st.hosts.filter((h) => h.log !== null).map((h) => [h.name, sizeOf(h.log!)]));
    const logOf = (h: HostState): string[] => linesSince(h.log!, marks.get(h.name) ?? 0);
    ctx.say.line(`${owner.name} holds ${subnet}: its lease is the key ${key}, on an etcd lease (a TTL) that ${owner.name} renews:`);
    ctx.say.line(`  ${value}`);
    ctx.say.line(`Every host watches ${ETCD_PREFIX}/subnets/; ${others.map((h) => h.name).join(', ')} route${others.length === 1 ? 's' : ''} ${subnet} through the TAP now: ${others.map((h) => `${h.name} ${routeOn(h) ? 'yes' : 'NO'}`).join(', ')}.`);
    const o1 = observers[0]!;
    return {
      steps: [
        watchStep(`sudo ip -n ${o1.ns} monitor route`, `watch ${o1.name}'s routing table change`),
        watchStep(`tail -f ${owner.log}`, `watch ${owner.name}'s log`),
        { show: `sudo ip netns exec ${ctx.st.etcd.ns} etcdctl del ${key}`, why: `delete ${owner.name}'s lease, as an operator (or an expired TTL) would`,
          argv: ['ip', 'netns', 'exec', ctx.st.etcd.ns, 'env', 'ETCDCTL_API=3', ETCDCTL_BIN, '--endpoints', ctx.st.etcd.endpoint, 'del', key] },
      ],
      expect: [
        `etcdctl prints 1 (one key deleted)`,
        `${o1.name}: "Deleted ${subnet} via ${subnet.split('/')[0]} dev ${ctx.st.tap} ..." and soon after the route again; its log: "removing subnet: ${subnet} ...", then "adding subnet: ${subnet} ..."`,
        `${owner.name}'s log: "lease of ${subnet} deleted; taking it again", then "took the lease of ${subnet} again"`,
      ],
      async check() {
        const own = logOf(owner);
        const lost = own.find((l) => l.includes(`lease of ${subnet} deleted`));
        const again = own.find((l) => l.includes(`took the lease of ${subnet} again`));
        const seen = others.map((h) => {
          const lines = logOf(h);
          return { h, removing: lines.find((l) => l.includes('removing') && l.includes(subnet)), adding: lines.find((l) => l.includes('adding') && l.includes(subnet)) };
        });
        if (lost === undefined || again === undefined || seen.some((s) => s.removing === undefined || s.adding === undefined)) return null;
        return {
          lines: [
            `${owner.name}'s log:`, `  ${lost.trim()}`, `  ${again.trim()}`,
            ...seen.flatMap((s) => [`${s.h.name}'s log:`, `  ${s.removing!.trim()}`, `  ${s.adding!.trim()}`]),
          ],
          data: { owner: owner.name, subnet, key, observers: seen.map((s) => s.h.name) },
        };
      },
      explain: () => [
        `A flannel lease is an etcd key with a TTL; the hosts learn their peers only from the watch on ${ETCD_PREFIX}/subnets/.`,
        `A delete event (etcd v3 sends no value with it: the watcher keeps a copy of each peer) makes every other host remove`,
        `that peer's route, FDB and ARP entry. flanneld exits when its own lease goes (and is restarted); vxtap's lease keeper`,
        `watches its own key instead, takes the same subnet again at once (it is still free), and the others add it back.`,
      ],
      async verifyRestored() {
        const end = Date.now() + RESTORE_WAIT_MS;
        for (;;) {
          const leases = await leasesIn(ctx.sh, ctx.st.etcd.ns, ctx.st.etcd.endpoint).catch(() => []);
          const back = leases.find((l) => l.subnet === subnet && l.publicIp === owner.ip) !== undefined;
          const missing = others.filter((h) => !routeOn(h)).map((h) => h.name);
          if (back && missing.length === 0) {
            ctx.say.line(`${owner.name} holds ${subnet} again (key ${key}); ${others.map((h) => h.name).join(', ')} route${others.length === 1 ? 's' : ''} it again`);
            return;
          }
          if (Date.now() > end) {
            throw new Error(`${!back ? `${key} is not back with ${owner.ip} (is ${owner.name}'s vxtap running? its log: ${owner.log})` : ''}${!back && missing.length > 0 ? '; ' : ''}${missing.length > 0 ? `no route to ${subnet} on ${missing.join(', ')}` : ''}`);
          }
          await sleep(300);
        }
      },
    };
  },
};
