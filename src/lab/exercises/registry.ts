/**
 * The exercises, by name, in the order a learner meets them (`lab exercise
 * list`), and which apply to a lab's mode.
 */
import type { LabMode } from '../plan';
import { arpMiss } from './arp-miss';
import { deleteLease } from './delete-lease';
import { flood } from './flood';
import { learning } from './learning';
import { mtu } from './mtu';
import type { Exercise } from './types';
import { unknownVtep } from './unknown-vtep';
import { wrongVni } from './wrong-vni';

export const EXERCISES: readonly Exercise[] = [mtu, arpMiss, wrongVni, unknownVtep, deleteLease, learning, flood];

export function exerciseByName(name: string): Exercise | undefined {
  return EXERCISES.find((e) => e.name === name);
}

export function exercisesFor(mode: LabMode): Exercise[] {
  return EXERCISES.filter((e) => e.modes.includes(mode));
}

/** `lab exercise list`: one line each, what it teaches. */
export function renderList(mode: LabMode, flags: string): string {
  const list = exercisesFor(mode);
  const w = Math.max(...list.map((e) => e.name.length));
  return [
    `exercises for this ${mode} lab (run one: npx vxtap lab exercise NAME${flags}; --auto does your part):`,
    '',
    ...list.map((e) => `  ${e.name.padEnd(w)}  ${e.teaches}`),
    '',
  ].join('\n');
}
