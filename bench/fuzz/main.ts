/**
 * `npm run fuzz`: runs bench/fuzz/fuzz.ts once and prints its checks.
 *
 *   npm run fuzz -- [--datagrams N] [--tap-frames N] [--seconds S] [--seed N]
 *                   [--prefix P] [--rss-limit-mb M] [--io batch|dgram] [--no-offload] [--json]
 *
 * Exit 0 when every check held, 1 when one did not, 2 for a bad flag.
 */
import { runFuzz, type FuzzOptions } from './fuzz';

function usage(msg: string): never {
  process.stderr.write(`fuzz: ${msg}\nusage: npm run fuzz -- [--datagrams N] [--tap-frames N] [--seconds S] [--seed N] [--prefix P] [--rss-limit-mb M] [--io batch|dgram] [--no-offload] [--json]\n`);
  process.exit(2);
}

function parse(argv: string[]): FuzzOptions & { json: boolean } {
  const o: FuzzOptions & { json: boolean } = { json: false, daemonArgs: [] };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) usage(`${flag} needs a whole number, got ${String(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--datagrams': o.datagrams = num(a, argv[++i]); break;
      case '--tap-frames': o.tapFrames = num(a, argv[++i]); break;
      case '--seconds': o.seconds = num(a, argv[++i]); break;
      case '--seed': o.seed = num(a, argv[++i]); break;
      case '--rss-limit-mb': o.rssLimitMb = num(a, argv[++i]); break;
      case '--prefix': {
        const p = argv[++i];
        if (p === undefined || !/^[a-z0-9-]{1,9}$/.test(p)) usage('--prefix needs 1-9 of a-z, 0-9, -');
        o.prefix = p;
        break;
      }
      case '--io': {
        const m = argv[++i];
        if (m !== 'batch' && m !== 'dgram') usage('--io is batch or dgram');
        o.daemonArgs!.push('--io', m);
        break;
      }
      case '--no-offload': o.daemonArgs!.push('--no-offload'); break;
      case '--json': o.json = true; break;
      default: usage(`unknown argument ${a}`);
    }
  }
  return o;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) usage('needs root (network namespaces, TAP devices)');
  const o = parse(process.argv.slice(2));
  const report = await runFuzz({ ...o, log: o.json ? undefined : (l) => process.stdout.write(`${l}\n`) });
  if (o.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    process.stdout.write(`sent: ${report.sent.datagrams} datagrams (${report.sent.fromStranger} from a stranger) ${JSON.stringify(report.sent.kinds)}\n`);
    process.stdout.write(`      ${report.sent.tapFrames} TAP frames (${report.sent.tapFailed} refused by the packet socket) ${JSON.stringify(report.sent.tapKinds)}\n`);
    process.stdout.write(`drops: ${JSON.stringify(report.books.drops)}\n`);
    for (const c of report.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
  }
  process.exit(report.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
