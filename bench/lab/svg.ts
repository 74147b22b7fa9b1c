/**
 * A small SVG writer for the lab report that knows where its text lands: each
 * label is kept with an estimated box, so the charts can place labels apart
 * and a test can check that no two of them overlap.
 *
 * Why not a chart library: vega and d3-scale (the maintained ones, checked
 * with `npm view`) are ES modules only, vega pulls in 27 packages, and
 * neither says where its labels land without a DOM or a canvas to measure
 * text in. These charts are a few hundred elements.
 */

export interface Box { x: number; y: number; w: number; h: number }

export interface Label {
  text: string;
  box: Box;
}

/**
 * Width of a string in px, estimated from per-character widths of DejaVu Sans
 * (what `sans-serif` resolves to on Debian, where the charts are rendered and
 * checked), rounded up. Helvetica and Arial are narrower, so the estimate only
 * errs towards more room.
 */
export function textWidth(text: string, size: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    if (' .,:;|!\'()[]ijlft·'.includes(ch)) em += 0.4;
    else if ('mwMW%+=×<>'.includes(ch)) em += 1.0;
    else if (ch >= 'A' && ch <= 'Z') em += 0.78;
    else if (ch === '–' || ch === '−') em += 0.52;
    else em += 0.66;
  }
  return Math.ceil(em * size * (bold ? 1.12 : 1));
}

export type Anchor = 'start' | 'middle' | 'end';

export interface TextOpts {
  size?: number;
  anchor?: Anchor;
  weight?: 'bold';
  fill?: string;
  italic?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n = (v: number): string => (Math.round(v * 10) / 10).toString();

/** The box a text would take, for a baseline at y (ascent 0.8 em, descent 0.25 em). */
export function textBox(x: number, y: number, text: string, size: number, anchor: Anchor, bold = false): Box {
  const w = textWidth(text, size, bold);
  const left = anchor === 'start' ? x : anchor === 'middle' ? x - w / 2 : x - w;
  return { x: left, y: y - 0.8 * size, w, h: 1.05 * size };
}

export function intersects(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export class Svg {
  private readonly parts: string[] = [];
  readonly labels: Label[] = [];

  constructor(public width: number, public height: number) {}

  raw(element: string): void {
    this.parts.push(element);
  }

  line(x1: number, y1: number, x2: number, y2: number, stroke: string, extra = ''): void {
    this.parts.push(`<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}"${extra ? ` ${extra}` : ''}/>`);
  }

  rect(x: number, y: number, w: number, h: number, fill: string, extra = ''): void {
    this.parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(Math.max(w, 0))}" height="${n(h)}" fill="${fill}"${extra ? ` ${extra}` : ''}/>`);
  }

  /** Writes a text and records its box; returns the box. */
  text(x: number, y: number, text: string, o: TextOpts = {}): Box {
    const size = o.size ?? 12;
    const anchor = o.anchor ?? 'start';
    const attrs = [
      `x="${n(x)}"`, `y="${n(y)}"`,
      size !== 12 ? `font-size="${size}"` : '',
      anchor !== 'start' ? `text-anchor="${anchor}"` : '',
      o.weight ? `font-weight="${o.weight}"` : '',
      o.italic ? 'font-style="italic"' : '',
      o.fill ? `fill="${o.fill}"` : '',
    ].filter((a) => a !== '');
    this.parts.push(`<text ${attrs.join(' ')}>${esc(text)}</text>`);
    const box = textBox(x, y, text, size, anchor, o.weight === 'bold');
    this.labels.push({ text, box });
    return box;
  }

  /** Opens a group; `data` become data-* attributes (what the tests find marks by). */
  open(cls: string, data: Record<string, string> = {}): void {
    const attrs = Object.entries(data).map(([k, v]) => ` data-${k}="${esc(v)}"`).join('');
    this.parts.push(`<g class="${cls}"${attrs}>`);
  }

  close(): void {
    this.parts.push('</g>');
  }

  toString(): string {
    return [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${n(this.height)}" viewBox="0 0 ${this.width} ${n(this.height)}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">`,
      `<rect width="${this.width}" height="${n(this.height)}" fill="white"/>`,
      ...this.parts,
      '</svg>',
    ].join('\n') + '\n';
  }
}
