/**
 * Test fixtures live in the repository (test/fixtures/, each described in
 * its README there), so a fresh clone needs nothing beside it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository root: the nearest directory up from here with a package.json (tests run from dist/test/...). */
export function repoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The path of a fixture file, `test/fixtures/<name>`. */
export function fixturePath(name: string): string {
  return path.join(repoRoot(), 'test', 'fixtures', name);
}
