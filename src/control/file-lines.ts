/**
 * Where each element of a static file's top-level array starts, as a 1-based
 * line number, for `vxtap explain`'s provenance ("peers.json line 7").
 * JSON.parse keeps no positions; jsonc-parser (Microsoft's, what VS Code
 * uses) gives each node its offset, and the line is counted from there.
 */
import { findNodeAtLocation, parseTree } from 'jsonc-parser';

/** The line of each element of `text`'s top-level `key` array, in order; [] when there is none. */
export function arrayElementLines(text: string, key: string): number[] {
  const root = parseTree(text);
  if (root === undefined) return [];
  const arr = findNodeAtLocation(root, [key]);
  if (arr === undefined || arr.type !== 'array' || arr.children === undefined) return [];
  return arr.children.map((n) => lineAt(text, n.offset));
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The line of the element of `text`'s top-level `key` array whose `field`
 * is `value` (e.g. the peer whose publicIp is 192.168.90.2), or null. For
 * explain: an edit elsewhere in the file moves an entry's line without
 * changing the entry (no event), so the line is looked up again when asked.
 */
export function lineOfEntry(text: string, key: string, field: string, value: string): number | null {
  const root = parseTree(text);
  if (root === undefined) return null;
  const arr = findNodeAtLocation(root, [key]);
  for (const n of arr?.children ?? []) {
    const v = findNodeAtLocation(n, [field]);
    if (v !== undefined && v.value === value) return lineAt(text, n.offset);
  }
  return null;
}
