/**
 * What the lab tells its reader as it builds: a bold step title, then
 * indented lines. Colours only on a terminal, and not with NO_COLOR.
 */
export interface Say {
  /** The first line: bold, not indented. */
  head(text: string): void;
  step(title: string): void;
  line(text: string): void;
  /** A dimmed line: commands echoed with -v, hints. */
  dim(text: string): void;
  bold(text: string): string;
  green(text: string): string;
  red(text: string): string;
}

export function makeSay(out: NodeJS.WritableStream & { isTTY?: boolean }): Say {
  const color = out.isTTY === true && (process.env.NO_COLOR === undefined || process.env.NO_COLOR === '');
  const paint = (code: string, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return {
    head: (text) => { out.write(paint('1', text) + '\n'); },
    step: (title) => { out.write(`\n${paint('1', `== ${title}`)}\n`); },
    line: (text) => { out.write(text.split('\n').map((l) => (l === '' ? '' : `  ${l}`.trimEnd())).join('\n') + '\n'); },
    dim: (text) => { out.write(paint('2', `  ${text}`) + '\n'); },
    bold: (s) => paint('1', s),
    green: (s) => paint('32', s),
    red: (s) => paint('31', s),
  };
}
