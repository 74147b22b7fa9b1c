/**
 * `vxtap bench [flags]`: the lab benchmark (bench/lab/run.sh, also `npm run
 * bench`) from the CLI. The flags go to the script as they are: --seconds,
 * --repeat, --paths, --compare, --out (see bench/README.md).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { VxtapError } from '../errors';

/** The package root: dist/src/cli/ is three levels down. */
const ROOT = path.resolve(__dirname, '..', '..', '..');

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run the lab benchmark (bench/lab/run.sh): veth, kernel vxlan and vxtap with and without offloads, as % of kernel vxlan; root')
    .argument('[flags...]', '--seconds S, --repeat N, --paths veth,kernel,vxtap-dgram,vxtap-batch,vxtap-offload, --compare openvpn,tinc, --out DIR')
    .allowUnknownOption()
    .helpOption(false)
    .action((flags: string[]) => {
      const script = path.join(ROOT, 'bench', 'lab', 'run.sh');
      if (!existsSync(script)) throw new VxtapError('VXTAP_ERR_PREREQ', `no ${script}: vxtap bench runs from a checkout of the repository`);
      // Ctrl-C reaches the script too, which cleans its namespaces up: wait for it rather than die first.
      process.on('SIGINT', () => undefined);
      process.on('SIGTERM', () => undefined);
      const r = spawnSync('bash', [script, ...flags], { stdio: 'inherit' });
      if (r.error !== undefined) throw r.error;
      // The script's own exit code (2: a bad flag, named by the script).
      process.exit(r.status ?? 1);
    });
}
