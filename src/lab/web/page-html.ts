/**
 * The page of `vxtap lab web`: HTML and CSS in one string, the script beside
 * it (/app.js). Nothing is loaded from elsewhere (no CDN, no web font), so
 * the page works on a machine with no network; the server's
 * Content-Security-Policy says the same to the browser.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vxtap lab</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg: #f7f7f4; --ink: #1d2327; --dim: #6b7378; --line: #c9cdd0; --vx: #1f6fb2; --k: #8a5a00; --tun: #7b61b8; --ok: #1a7f37; --bad: #c0392b; --hl: #f2b705; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--ink); background: var(--bg); }
  header { padding: 8px 16px; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: var(--dim); }
  #status { margin-left: auto; color: var(--dim); }
  main { display: grid; grid-template-columns: minmax(560px, 3fr) minmax(360px, 2fr); gap: 12px; padding: 12px 16px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
  section h2 { font-size: 14px; margin: 0 0 6px; }
  #drawing svg { width: 100%; height: auto; display: block; }
  .host rect.box { fill: #fff; stroke: var(--vx); stroke-width: 2; rx: 8; cursor: pointer; }
  .host.kernel rect.box { stroke: var(--k); stroke-dasharray: 6 3; }
  .host.down rect.box { stroke: var(--bad); }
  .host.selected rect.box, .tunnel.selected path.wire { stroke: var(--hl); stroke-width: 4; }
  .host text { font-size: 12px; pointer-events: none; }
  .host text.name { font-weight: 700; font-size: 14px; }
  .host text.counter { font-family: ui-monospace, monospace; font-size: 11px; }
  .container rect { fill: #eef4fa; stroke: var(--line); rx: 5; }
  .container text { font-size: 11px; }
  .veth { stroke: var(--dim); stroke-width: 1.5; }
  .underlay rect { fill: #dfe3e6; stroke: var(--dim); rx: 4; }
  .underlay text, .etcd text { font-size: 12px; }
  .etcd rect { fill: #fdf6e3; stroke: var(--k); rx: 6; cursor: pointer; }
  .tunnel path.wire { fill: none; stroke: var(--tun); stroke-width: 2; stroke-opacity: .55; cursor: pointer; }
  .tunnel path.hit { fill: none; stroke: transparent; stroke-width: 14; cursor: pointer; }
  .tunnel:hover path.wire { stroke-opacity: 1; }
  .tunnel circle.handle { fill: #fff; stroke: var(--tun); stroke-width: 2; cursor: pointer; }
  .tunnel.selected circle.handle { fill: var(--hl); }
  .flash { animation: flash 0.6s ease-out; }
  @keyframes flash { from { fill: var(--hl); } to { fill: inherit; } }
  .pulse rect.box { stroke: var(--hl) !important; stroke-width: 5 !important; }
  .pulse path.wire { stroke: var(--hl) !important; stroke-width: 5 !important; stroke-opacity: 1 !important; }
  circle.packet { fill: var(--hl); stroke: var(--ink); stroke-width: 1; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; margin-bottom: 8px; }
  th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eceeef; vertical-align: top; }
  td.mono, .mono { font-family: ui-monospace, monospace; }
  table[data-table="etcd"] td { overflow-wrap: anywhere; }
  table[data-table="etcd"] td:nth-child(2) { font-size: 11px; }
  caption { text-align: left; font-weight: 600; padding: 4px 0; }
  #trace ol { margin: 0; padding: 0; list-style: none; max-height: 260px; overflow: auto; font-family: ui-monospace, monospace; font-size: 11px; }
  #trace li { padding: 2px 0; border-bottom: 1px dotted #e3e5e6; }
  .decision { display: inline-block; min-width: 62px; padding: 0 4px; border-radius: 3px; color: #fff; text-align: center; font-size: 11px; }
  .decision.encap { background: var(--vx); } .decision.decap { background: var(--ok); }
  .decision.arp-reply { background: var(--tun); } .decision.drop { background: var(--bad); } .decision.kernel { background: var(--k); }
  #ping-steps { margin: 6px 0 0; padding-left: 22px; font-size: 12px; }
  #ping-steps li { margin: 3px 0; opacity: .35; }
  #ping-steps li.shown { opacity: 1; }
  #ping-steps li.current { background: #fff6d6; }
  #ping-steps .why { color: var(--dim); font-family: ui-monospace, monospace; font-size: 11px; }
  form { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
  select, button { font: inherit; padding: 2px 6px; }
  .hint { color: var(--dim); font-size: 12px; }
  .err { color: var(--bad); }
  .right { display: flex; flex-direction: column; gap: 12px; }
</style>
</head>
<body>
<header>
  <h1>vxtap lab</h1>
  <span class="meta" id="meta">loading…</span>
  <span id="status"></span>
</header>
<main>
  <div class="right">
    <section id="drawing"><h2>Hosts, containers, underlay and tunnels <span class="hint">(click a host, a tunnel or etcd)</span></h2><div id="svg-holder"></div></section>
    <section id="trace"><h2>Last frames of the trace: <select id="trace-host"></select></h2><ol id="trace-list"></ol></section>
  </div>
  <div class="right">
    <section id="ping">
      <h2>Ping, step by step</h2>
      <form id="ping-form">from <select id="ping-from"></select> to <select id="ping-to"></select> <button id="ping-go" type="submit">ping once</button></form>
      <div id="ping-result" class="hint">A ping from one container to another; each host's trace says what it decided, in order.</div>
      <ol id="ping-steps"></ol>
    </section>
    <section id="detail"><h2 id="detail-title">Details</h2><div id="detail-body" class="hint">Click a host to see its FDB, ARP table and the etcd record behind it; click a tunnel to see both ends.</div></section>
  </div>
</main>
<script src="/app.js"></script>
</body>
</html>
`;
