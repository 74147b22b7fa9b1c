/**
 * The `vxtap` command line (commander). Each command lives in its own module;
 * this file only declares flags and turns failures into a message and an exit
 * code: a bad flag or config names the problem and exits 2, a failure at
 * start-up exits 1.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { VxtapError } from '../errors';
import { makeLogger, parseLogFormat, parseLogLevel } from './log';
import { parseIoMode, runCommand, type IoMode } from './run';
import { DEFAULT_BATCH } from '../switch/switch';

const EXIT_USAGE = 2;
/** Errors the command's logger has reported already: main() does not print them again. */
const logged = new WeakSet<object>();
const EXIT_FAILURE = 1;

function intIn(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return n;
  };
}

function wrapParse<T>(f: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return f(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message.replace(/^--[a-z-]+: /, ''));
    }
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vxtap')
    .description('A VXLAN switch (VTEP) in user space: a TAP device, a TypeScript data plane, RFC 7348 over UDP')
    .version(require('../../../package.json').version as string)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description('bring this host up as a VTEP (flannel vxlan scheme) and forward until SIGTERM/SIGINT')
    .requiredOption('--peers <file>', 'static peers file (JSON: vni, port, self.subnet, peers[])')
    .option('--iface <name>', 'underlay interface (default: the one with the default route)')
    .option('--public-ip <ip>', 'outer source IPv4 (default: the underlay interface\'s address)')
    .option('--tap <name>', 'TAP device name (default: vxtap.<VNI>); may be an existing persistent TAP')
    .addOption(new Option('--io <mode>', 'UDP path: batch (addon, recvmmsg/sendmmsg) or dgram (Node dgram)').default('batch').argParser(wrapParse(parseIoMode)))
    .addOption(new Option('--batch-size <n>', 'frames per batch').default(DEFAULT_BATCH).argParser(intIn('--batch-size', 1, 1024)))
    .addOption(new Option('--sock-buf <bytes>', 'UDP socket send/receive buffer').default(4 * 1024 * 1024).argParser(intIn('--sock-buf', 65536, 1 << 30)))
    .addOption(new Option('--log-format <fmt>', 'auto (pretty on a terminal, else JSON), json or pretty').default('auto').argParser(wrapParse(parseLogFormat)))
    .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error').default('info').argParser(wrapParse(parseLogLevel)))
    .action(async (o: { peers: string; iface?: string; publicIp?: string; tap?: string; io: IoMode; batchSize: number; sockBuf: number; logFormat: 'auto' | 'json' | 'pretty'; logLevel: string }) => {
      const log = makeLogger(o.logFormat, o.logLevel);
      try {
        await runCommand({ peers: o.peers, iface: o.iface, publicIp: o.publicIp, tap: o.tap, io: o.io, batchSize: o.batchSize, sockBuf: o.sockBuf }, log);
      } catch (err) {
        // Our own errors are expected failures: the message and code say it all, no stack.
        if (err instanceof VxtapError) log.fatal({ code: err.code }, err.message);
        else log.fatal({ err }, (err as Error).message);
        logged.add(err as object);
        throw err;
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander has printed the problem already (or help/version, exit 0).
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    // On a terminal the pretty log line is the message; in JSON mode a person
    // reading stderr still gets one plain line.
    if (!logged.has(err as object) || !process.stdout.isTTY) {
      process.stderr.write(`vxtap: ${e.message ?? String(err)}${err instanceof VxtapError ? ` [${err.code}]` : ''}\n`);
    }
    return err instanceof VxtapError && err.code === 'VXTAP_ERR_CONFIG' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`vxtap: ${String(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  });
}
