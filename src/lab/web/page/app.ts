/**
 * The script of `vxtap lab web`'s page (compiled by ./tsconfig.json with the
 * DOM library, served as /app.js). It draws the lab once from /api/topology,
 * then polls /api/live every second and moves the counters; a click on a
 * host or a tunnel fills the details panel; a ping is animated step by step
 * from the trace records the server returns.
 *
 * The types below mirror src/lab/web/data.ts by hand: this file is compiled
 * apart (the browser has no `require`), so it imports nothing.
 */

interface TopoHost { name: string; kind: 'vxtap' | 'kernel'; ns: string; ip: string; subnet: string | null; container: string; containerIp: string | null; vtepMac: string | null; traced: boolean }
interface Topology {
  prefix: string; mode: 'routed' | 'l2'; network: string; underlay: string; vni: number; port: number; phase: string;
  etcd: { ns: string; ip: string; endpoint: string }; hosts: TopoHost[]; tunnels: { id: string; a: string; b: string }[];
}
interface FdbRow { mac: string; vtep: string; port: number; kind: string; ageSeconds: number }
interface ArpRow { ip: string; mac: string; subnet: string | null; publicIp: string | null; kind?: string }
interface PeerRow { subnet: string; publicIp: string | null; vtepMac: string | null; route: string | null; error: string | null }
interface Counters { encap: number; decap: number; arpAnswered: number | null; drops: number; dropsByReason: Record<string, number> }
interface HostLive { name: string; kind: string; source: string; up: boolean; error: string | null; counters: Counters | null; fdb: FdbRow[]; arp: ArpRow[]; peers: PeerRow[] }
interface TraceLine { host: string; seq: number; time: string; tsUs: number; dir: 'tap' | 'net'; decision: string; drop: string | null; reason: string; layers: string[]; lookups: string[]; encapTo: string | null; from: string | null; protos: string[] }
interface EtcdRecord { key: string; value: string; createRevision: number; modRevision: number; version: number; lease: string | null; leaseGrantedTtl: number | null; leaseRemainingTtl: number | null; host: string | null }
interface PingTrace { from: string; to: string; fromIp: string; toIp: string; ok: boolean; rttMs: number | null; steps: TraceLine[]; untraced: string[] }
interface ApiError { error: { code: string; message: string } }

const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 1000;
const HOST_W = 170;
const HOST_H = 118;
const HOST_Y = 110;
const CONT_Y = 20;
const BAR_Y = 380;
const STEP_MS = 900;

let topo: Topology;
const live = new Map<string, HostLive>();
const pos = new Map<string, { x: number; y: number }>();
let selected: { kind: 'host' | 'tunnel' | 'etcd'; id: string } | null = null;
let packet: SVGCircleElement | null = null;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`no #${id}`);
  return el;
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const r = await fetch(path, init);
  const j = (await r.json()) as T | ApiError;
  if (!r.ok) throw new Error((j as ApiError).error?.message ?? `${r.status}`);
  return j as T;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, parent?: Element, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  if (parent !== undefined) parent.appendChild(el);
  return el;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function hostByIp(ip: string | null): TopoHost | undefined {
  return topo.hosts.find((h) => h.ip === ip);
}

/** The drawing: containers over hosts, tunnels between hosts, the underlay bridge under them, etcd on it. */
function draw(): void {
  const n = topo.hosts.length;
  const gap = W / n;
  const root = svg('svg', { viewBox: `0 0 ${W} 470`, id: 'lab-svg', role: 'img', 'aria-label': 'the lab' });
  const tunnels = svg('g', { id: 'tunnels' });
  topo.hosts.forEach((h, i) => pos.set(h.name, { x: gap * i + gap / 2, y: HOST_Y + HOST_H / 2 }));

  // The underlay: one bridge, each host on it by a veth.
  const bar = svg('g', { class: 'underlay', 'data-underlay': topo.underlay }, root);
  svg('rect', { x: 20, y: BAR_Y, width: W - 40, height: 26 }, bar);
  svg('text', { x: 30, y: BAR_Y + 18 }, bar, `underlay bridge ${topo.underlay} (UDP ${topo.port}, VNI ${topo.vni})`);
  const etcd = svg('g', { class: 'etcd', 'data-etcd': topo.etcd.ns }, root);
  svg('line', { class: 'veth', x1: W - 110, y1: BAR_Y + 26, x2: W - 110, y2: BAR_Y + 46 }, etcd);
  svg('rect', { x: W - 200, y: BAR_Y + 46, width: 180, height: 36 }, etcd);
  svg('text', { x: W - 190, y: BAR_Y + 69 }, etcd, `etcd ${topo.etcd.ip}`);
  etcd.addEventListener('click', () => select({ kind: 'etcd', id: 'etcd' }));

  root.appendChild(tunnels);
  topo.tunnels.forEach((t) => {
    const a = pos.get(t.a)!;
    const b = pos.get(t.b)!;
    const span = Math.abs(topo.hosts.findIndex((h) => h.name === t.a) - topo.hosts.findIndex((h) => h.name === t.b));
    const y0 = HOST_Y + HOST_H;
    const d = `M ${a.x} ${y0} Q ${(a.x + b.x) / 2} ${y0 + 40 + 45 * span} ${b.x} ${y0}`;
    const g = svg('g', { class: 'tunnel', 'data-tunnel': t.id }, tunnels);
    svg('path', { class: 'wire', d, id: `tun-${t.id}` }, g);
    svg('path', { class: 'hit', d }, g);
    // A handle at the curve's middle: where curves cross, the handle still names one tunnel.
    const mx = (a.x + b.x) / 2;
    const my = (y0 + (y0 + 40 + 45 * span)) / 2;
    svg('circle', { class: 'handle', cx: mx, cy: my, r: 6 }, g);
    svg('title', {}, g, `VXLAN tunnel ${t.a} ⇄ ${t.b}: click for both ends' FDB and peer entries and their leases`);
    g.addEventListener('click', () => select({ kind: 'tunnel', id: t.id }));
  });

  topo.hosts.forEach((h) => {
    const p = pos.get(h.name)!;
    const x = p.x - HOST_W / 2;
    svg('line', { class: 'veth', x1: p.x, y1: HOST_Y + HOST_H, x2: p.x, y2: BAR_Y }, root);
    svg('text', { x: p.x + 4, y: BAR_Y - 6, 'font-size': 11 }, root, `eth0 ${h.ip}`);
    const c = svg('g', { class: 'container', 'data-container': h.name }, root);
    svg('line', { class: 'veth', x1: p.x, y1: CONT_Y + 44, x2: p.x, y2: HOST_Y }, c);
    svg('rect', { x: p.x - 70, y: CONT_Y, width: 140, height: 44 }, c);
    svg('text', { x: p.x - 62, y: CONT_Y + 17 }, c, `container ${h.name}-c`);
    svg('text', { x: p.x - 62, y: CONT_Y + 34, class: 'mono' }, c, h.containerIp ?? '-');
    const g = svg('g', { class: `host ${h.kind}`, 'data-host': h.name, 'data-kind': h.kind }, root);
    svg('rect', { class: 'box', x, y: HOST_Y, width: HOST_W, height: HOST_H }, g);
    svg('text', { class: 'name', x: x + 8, y: HOST_Y + 18 }, g, `${h.name} `);
    svg('text', { x: x + 40, y: HOST_Y + 18, fill: h.kind === 'vxtap' ? 'var(--vx)' : 'var(--k)' }, g, h.kind === 'vxtap' ? 'vxtap' : 'kernel vxlan');
    svg('text', { x: x + 8, y: HOST_Y + 34 }, g, topo.mode === 'l2' ? 'L2 segment' : `subnet ${h.subnet ?? '-'}`);
    const rows: [string, string][] = [['encap', 'encap'], ['decap', 'decap'], ['arpAnswered', 'arp'], ['drops', 'drops']];
    rows.forEach(([key, label], i) => {
      svg('text', { class: 'counter', x: x + 8 + (i % 2) * 80, y: HOST_Y + 56 + Math.floor(i / 2) * 16 }, g, `${label} `);
      svg('text', { class: 'counter', 'data-counter': key, x: x + 50 + (i % 2) * 80, y: HOST_Y + 56 + Math.floor(i / 2) * 16 }, g, '…');
    });
    svg('text', { class: 'counter src', x: x + 8, y: HOST_Y + 104, fill: 'var(--dim)' }, g, h.kind === 'vxtap' ? 'from its control socket' : 'from ip -s link (kernel)');
    g.addEventListener('click', () => select({ kind: 'host', id: h.name }));
  });
  packet = svg('circle', { class: 'packet', r: 9, cx: -50, cy: -50, id: 'packet' }, root);
  $('svg-holder').replaceChildren(root);
}

function setCounter(host: string, key: string, v: number | null): void {
  const t = document.querySelector(`[data-host="${host}"] [data-counter="${key}"]`);
  if (t === null) return;
  const text = v === null ? '–' : String(v);
  if (t.textContent !== text && t.textContent !== '…') {
    t.classList.remove('flash');
    void (t as SVGElement).getBoundingClientRect();
    t.classList.add('flash');
  }
  t.textContent = text;
}

async function poll(): Promise<void> {
  try {
    const r = await api<{ time: string; hosts: HostLive[] }>('/api/live');
    for (const h of r.hosts) {
      live.set(h.name, h);
      const c = h.counters;
      setCounter(h.name, 'encap', c?.encap ?? null);
      setCounter(h.name, 'decap', c?.decap ?? null);
      setCounter(h.name, 'arpAnswered', c?.arpAnswered ?? null);
      setCounter(h.name, 'drops', c?.drops ?? null);
      document.querySelector(`[data-host="${h.name}"]`)?.classList.toggle('down', !h.up);
    }
    $('status').textContent = `live, ${new Date(r.time).toLocaleTimeString()}`;
    $('status').className = '';
    if (selected !== null && selected.kind !== 'etcd') void renderDetail(false);
  } catch (err) {
    $('status').textContent = `no answer: ${(err as Error).message}`;
    $('status').className = 'err';
  }
}

async function pollTrace(): Promise<void> {
  const host = ($('trace-host') as HTMLSelectElement).value;
  const list = $('trace-list');
  if (host === '') return;
  try {
    const r = await api<{ host: string; kind: string; traced: boolean; frames: TraceLine[] }>(`/api/trace?host=${encodeURIComponent(host)}&n=15`);
    if (!r.traced) {
      list.replaceChildren(el('li', {}, r.kind === 'kernel' ? `${host} runs kernel vxlan: no trace (watch it with tcpdump in its namespace)` : `${host} runs without --trace`));
      return;
    }
    list.replaceChildren(...r.frames.slice().reverse().map(traceItem));
  } catch (err) {
    list.replaceChildren(el('li', { class: 'err' }, (err as Error).message));
  }
}

function traceItem(f: TraceLine): HTMLLIElement {
  const li = el('li', { 'data-seq': String(f.seq) });
  li.append(el('span', { class: `decision ${f.decision}` }, f.decision), ` #${f.seq} ${f.time.slice(11, 23)} ${f.dir === 'tap' ? 'from TAP' : `from ${f.from ?? 'net'}`}: ${f.layers.filter((l) => !/outer|VXLAN|^Payload/.test(l)).slice(-1)[0] ?? ''} → ${f.drop ?? f.reason.split(':')[0]}`);
  li.title = [...f.layers, ...f.lookups, f.reason].join('\n');
  return li;
}

function table(name: string, caption: string, head: string[], rows: string[][]): HTMLTableElement {
  const t = el('table', { 'data-table': name });
  t.append(el('caption', {}, caption));
  const tr = el('tr');
  for (const h of head) tr.append(el('th', {}, h));
  t.append(tr);
  if (rows.length === 0) {
    const r = el('tr');
    const td = el('td', { colspan: String(head.length), class: 'hint' }, '(empty)');
    r.append(td);
    t.append(r);
  }
  for (const row of rows) {
    const r = el('tr');
    for (const c of row) r.append(el('td', { class: 'mono' }, c));
    t.append(r);
  }
  return t;
}

function etcdTable(recs: EtcdRecord[], caption: string): HTMLTableElement {
  return table('etcd', caption, ['key', 'value', 'rev (create/mod)', 'lease', 'TTL left / granted'], recs.map((r) => [
    r.key, r.value, `${r.createRevision}/${r.modRevision}`, r.lease ?? '-',
    r.leaseRemainingTtl === null ? '-' : `${r.leaseRemainingTtl} s / ${r.leaseGrantedTtl ?? '?'} s`,
  ]));
}

function select(s: { kind: 'host' | 'tunnel' | 'etcd'; id: string }): void {
  selected = s;
  document.querySelectorAll('.selected').forEach((e) => e.classList.remove('selected'));
  if (s.kind === 'host') document.querySelector(`[data-host="${s.id}"]`)?.classList.add('selected');
  if (s.kind === 'tunnel') document.querySelector(`[data-tunnel="${s.id}"]`)?.classList.add('selected');
  if (s.kind === 'host') { ($('trace-host') as HTMLSelectElement).value = s.id; void pollTrace(); }
  void renderDetail(true);
}

let etcdCache: { records: EtcdRecord[]; revision: number } | null = null;

/** Fills the details panel; etcd is asked on a click (withEtcd), the tables are refreshed by each poll. */
async function renderDetail(withEtcd: boolean): Promise<void> {
  if (selected === null) return;
  const body = $('detail-body');
  const title = $('detail-title');
  if (withEtcd || etcdCache === null) {
    try { etcdCache = await api<{ records: EtcdRecord[]; revision: number }>('/api/etcd'); } catch (err) { etcdCache = null; body.replaceChildren(el('p', { class: 'err' }, `etcd: ${(err as Error).message}`)); }
  }
  const recs = etcdCache?.records ?? [];
  const parts: HTMLElement[] = [];
  if (selected.kind === 'etcd') {
    title.textContent = `etcd (${topo.etcd.endpoint} in ${topo.etcd.ns}), revision ${etcdCache?.revision ?? '?'}`;
    parts.push(etcdTable(recs, 'every key under /coreos.com/network'));
  } else if (selected.kind === 'host') {
    const h = topo.hosts.find((x) => x.name === selected!.id)!;
    const l = live.get(h.name);
    title.textContent = `${h.name}: ${h.kind === 'vxtap' ? 'vxtap' : 'kernel vxlan'}, ${h.ip}${h.subnet !== null ? `, subnet ${h.subnet}` : ''}`;
    parts.push(el('p', { class: 'hint' }, l === undefined ? 'waiting for the first poll' : l.up ? `source: ${l.source}` : `not answering: ${l.error ?? ''}`));
    if (l !== undefined) {
      const drops = Object.entries(l.counters?.dropsByReason ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
      if (drops !== '') parts.push(el('p', {}, `drops by reason: ${drops}`));
      parts.push(table('fdb', 'FDB: MAC → VTEP', ['MAC', 'VTEP', 'port', 'kind'], l.fdb.map((r) => [r.mac, r.vtep, String(r.port), r.kind])));
      parts.push(table('arp', 'ARP: overlay IP → MAC', ['IP', 'MAC', 'peer'], l.arp.map((r) => [r.ip, r.mac, r.publicIp ?? '-'])));
      if (h.kind === 'vxtap') parts.push(table('peers', 'peers (from etcd)', ['subnet', 'public IP', 'VTEP MAC', 'route / error'], l.peers.map((r) => [r.subnet, r.publicIp ?? '-', r.vtepMac ?? '-', r.error ?? r.route ?? '-'])));
    }
    parts.push(etcdTable(recs.filter((r) => r.host === h.name), `etcd: ${h.name}'s record (its lease)`));
  } else {
    const t = topo.tunnels.find((x) => x.id === selected!.id)!;
    const a = topo.hosts.find((x) => x.name === t.a)!;
    const b = topo.hosts.find((x) => x.name === t.b)!;
    title.textContent = `tunnel ${a.name} (${a.ip}) ⇄ ${b.name} (${b.ip})`;
    for (const [me, other] of [[a, b], [b, a]] as const) {
      const l = live.get(me.name);
      parts.push(table('fdb', `on ${me.name}: FDB entries to ${other.name}'s VTEP ${other.ip}`, ['MAC', 'VTEP', 'kind'], (l?.fdb ?? []).filter((r) => r.vtep === other.ip).map((r) => [r.mac, r.vtep, r.kind])));
      if (me.kind === 'vxtap') parts.push(table('peers', `on ${me.name}: peer ${other.name}`, ['subnet', 'public IP', 'VTEP MAC', 'route / error'], (l?.peers ?? []).filter((r) => r.publicIp === other.ip).map((r) => [r.subnet, r.publicIp ?? '-', r.vtepMac ?? '-', r.error ?? r.route ?? '-'])));
    }
    parts.push(etcdTable(recs.filter((r) => r.host === a.name || r.host === b.name), 'etcd: the records of both ends'));
  }
  body.className = '';
  body.replaceChildren(...parts);
}

// ---- the ping, animated ----

interface Step { host: string; decision: string; dir: 'tap' | 'net' | 'kernel'; text: string; why: string[]; from: string | null; to: string | null }

/** The trace's records, with the kernel hosts' part (no trace) put in where a frame went to or came from one. */
function stepsOf(p: PingTrace): Step[] {
  const out: Step[] = [];
  const kernelStep = (k: TopoHost, what: string): Step => ({ host: k.name, decision: 'kernel', dir: 'kernel', text: `${k.name}: kernel vxlan ${what}`, why: ['(the kernel keeps no trace: this step is inferred)'], from: null, to: null });
  for (const s of p.steps) {
    const src = hostByIp(s.from);
    if (s.dir === 'net' && src?.kind === 'kernel') out.push(kernelStep(src, `encapsulates the frame and sends it to ${s.host}`));
    out.push({ host: s.host, decision: s.decision, dir: s.dir, text: `${s.host}: ${s.reason}`, why: [...s.lookups], from: s.from, to: s.encapTo });
    const dst = hostByIp(s.encapTo);
    if (s.decision === 'encap' && dst?.kind === 'kernel') out.push(kernelStep(dst, 'decapsulates it and hands it to its container'));
  }
  return out;
}

function animateTo(x: number, y: number, ms: number): Promise<void> {
  const c = packet!;
  const x0 = Number(c.getAttribute('cx'));
  const y0 = Number(c.getAttribute('cy'));
  if (x0 < 0) { c.setAttribute('cx', String(x)); c.setAttribute('cy', String(y)); return Promise.resolve(); }
  const t0 = performance.now();
  return new Promise((resolve) => {
    const tick = (t: number): void => {
      const k = Math.min(1, (t - t0) / ms);
      c.setAttribute('cx', String(x0 + (x - x0) * k));
      c.setAttribute('cy', String(y0 + (y - y0) * k));
      if (k < 1) requestAnimationFrame(tick); else resolve();
    };
    requestAnimationFrame(tick);
  });
}

function tunnelMid(a: string, b: string): { x: number; y: number } | null {
  const t = topo.tunnels.find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
  const path = t === undefined ? null : (document.getElementById(`tun-${t.id}`) as SVGPathElement | null);
  if (path === null) return null;
  const p = path.getPointAtLength(path.getTotalLength() / 2);
  return { x: p.x, y: p.y };
}

function pulse(selector: string): void {
  const e = document.querySelector(selector);
  if (e === null) return;
  e.classList.add('pulse');
  setTimeout(() => e.classList.remove('pulse'), STEP_MS);
}

async function runPing(ev: Event): Promise<void> {
  ev.preventDefault();
  const from = ($('ping-from') as HTMLSelectElement).value;
  const to = ($('ping-to') as HTMLSelectElement).value;
  const btn = $('ping-go') as HTMLButtonElement;
  const list = $('ping-steps');
  const res = $('ping-result');
  btn.disabled = true;
  list.replaceChildren();
  res.className = 'hint';
  res.textContent = `pinging ${to}'s container from ${from}'s…`;
  try {
    const p = await api<PingTrace>('/api/ping', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to }) });
    res.className = p.ok ? '' : 'err';
    res.textContent = `${p.from}-c ${p.fromIp} → ${p.to}-c ${p.toIp}: ${p.ok ? `reply in ${p.rttMs ?? '?'} ms` : 'no reply'}; ${p.steps.length} frames traced${p.untraced.length > 0 ? `; ${p.untraced.join(', ')} kernel vxlan (no trace)` : ''}`;
    const steps = stepsOf(p);
    list.setAttribute('data-state', 'animating');
    const items = steps.map((s, i) => {
      const li = el('li', { 'data-decision': s.decision, 'data-host': s.host, 'data-step': String(i) });
      li.append(el('span', { class: `decision ${s.decision}` }, s.decision), ` ${s.text}`);
      for (const w of s.why) li.append(el('div', { class: 'why' }, w));
      list.append(li);
      return li;
    });
    packet!.setAttribute('cx', '-50');
    let at = p.from;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      items.forEach((li) => li.classList.remove('current'));
      items[i]!.classList.add('shown', 'current');
      const h = pos.get(s.host)!;
      if (s.dir === 'tap') {
        await animateTo(h.x, CONT_Y + 22, 1);
        await animateTo(h.x, h.y, STEP_MS / 2);
      } else if (at !== s.host) {
        const mid = tunnelMid(at, s.host);
        if (mid !== null) { pulse(`[data-tunnel="${topo.tunnels.find((t) => (t.a === at && t.b === s.host) || (t.b === at && t.a === s.host))?.id ?? ''}"]`); await animateTo(mid.x, mid.y, STEP_MS / 3); }
        await animateTo(h.x, h.y, STEP_MS / 3);
      }
      pulse(`[data-host="${s.host}"]`);
      at = s.host;
      if (s.decision === 'decap' || s.decision === 'arp-reply' || (s.dir === 'kernel' && /container/.test(s.text))) await animateTo(h.x, CONT_Y + 22, STEP_MS / 3);
      await new Promise((r) => setTimeout(r, STEP_MS / 2));
    }
    list.setAttribute('data-state', 'done');
  } catch (err) {
    res.className = 'err';
    res.textContent = (err as Error).message;
  } finally {
    btn.disabled = false;
  }
}

async function main(): Promise<void> {
  topo = await api<Topology>('/api/topology');
  $('meta').textContent = `${topo.mode === 'l2' ? `L2 segment ${topo.network}` : `routed overlay ${topo.network}`} · ${topo.hosts.length} hosts · prefix ${topo.prefix}${topo.phase !== 'up' ? ' · lab up did not finish' : ''}`;
  draw();
  const fromSel = $('ping-from') as HTMLSelectElement;
  const toSel = $('ping-to') as HTMLSelectElement;
  const traceSel = $('trace-host') as HTMLSelectElement;
  for (const h of topo.hosts) {
    fromSel.append(el('option', { value: h.name }, `${h.name}-c ${h.containerIp ?? ''}`));
    toSel.append(el('option', { value: h.name }, `${h.name}-c ${h.containerIp ?? ''}`));
    traceSel.append(el('option', { value: h.name }, h.name));
  }
  if (topo.hosts.length > 1) toSel.value = topo.hosts[topo.hosts.length - 1]!.name;
  traceSel.value = topo.hosts.find((h) => h.traced)?.name ?? topo.hosts[0]?.name ?? '';
  traceSel.addEventListener('change', () => void pollTrace());
  $('ping-form').addEventListener('submit', (e) => void runPing(e));
  document.body.setAttribute('data-ready', 'yes');
  await poll();
  await pollTrace();
  setInterval(() => void poll(), 1000);
  setInterval(() => void pollTrace(), 2000);
}

main().catch((err: unknown) => {
  $('meta').textContent = `could not load the lab: ${(err as Error).message}`;
  $('meta').className = 'err';
});
