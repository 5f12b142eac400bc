// The admin page: one command client on /_admin (token from the URL fragment), a live value
// per node (figures/<node>) kept current by the server's patches, and the operator's actions.
import { createClient } from '/client.js';

const $ = (sel) => document.querySelector(sel);
// a configured token is not printed at start: the page asks for it once and keeps it in the
// fragment (never sent to the server as part of a page request)
let token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
if (!token) {
  token = prompt('Admin token') ?? '';
  if (token) history.replaceState(null, '', `#token=${encodeURIComponent(token)}`);
}
const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const client = createClient(`${scheme}://${location.host}/_admin?token=${encodeURIComponent(token)}`);

const figures = new Map(); // node id -> its latest figures
const roomInputs = new Map(); // route#room -> its message box, kept across renders
const followed = new Map(); // node id -> live value
let home = '';
let drawn = false;

function follow(id) {
  if (followed.has(id)) return;
  const value = client.live(`figures/${id}`);
  followed.set(id, value);
  value.subscribe((f) => {
    if (!f) return;
    figures.set(id, f);
    for (const c of f.cluster) follow(c.id);
    if (!drawn) requestAnimationFrame(draw), (drawn = true);
  });
}

/** Nodes the home node still sees a lease for (a node that left drops off the page). */
function liveNodes() {
  const lease = figures.get(home)?.cluster.map((c) => c.id);
  return [...figures.values()].filter((f) => !lease || lease.includes(f.node)).sort((a, b) => a.node.localeCompare(b.node));
}

const fmtRate = (n) => n.toFixed(1);
const fmtBytes = (b) => (b < 1024 ? `${b} B` : b < 1048576 ? `${(b / 1024).toFixed(1)} KB` : `${(b / 1048576).toFixed(1)} MB`);
function fmtAge(ms) {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (cls) td.className = cls;
  return td;
}

function button(label, onClick, cls) {
  const b = document.createElement('button');
  b.textContent = label;
  if (cls) b.className = cls;
  b.addEventListener('click', onClick);
  return b;
}

function fill(table, rows) {
  const body = $(`${table} tbody`);
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    for (const c of cells) tr.append(c instanceof Node ? wrap(c) : cell(c));
    return tr;
  }));
}

function wrap(node) {
  if (node instanceof HTMLTableCellElement) return node;
  const td = document.createElement('td');
  td.append(node);
  return td;
}

function sparkline(title, series) {
  const fig = document.createElement('figure');
  fig.className = 'chart';
  fig.dataset.chart = title;
  const cap = document.createElement('figcaption');
  const last = series.length ? series[series.length - 1] : 0;
  cap.append(Object.assign(document.createElement('span'), { textContent: title }), Object.assign(document.createElement('strong'), { textContent: `${fmtRate(last)}/s` }));
  const max = Math.max(1, ...series);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 59 100');
  svg.setAttribute('preserveAspectRatio', 'none');
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  const offset = 60 - series.length;
  line.setAttribute('points', series.map((v, i) => `${i + offset},${100 - (v / max) * 96 - 2}`).join(' '));
  svg.append(line);
  fig.append(cap, svg);
  return fig;
}

/** The nodes' series summed point by point (aligned on the newest sample). */
function summed(nodes, key) {
  const len = Math.max(0, ...nodes.map((n) => n.series[key].length));
  const out = new Array(len).fill(0);
  for (const n of nodes) n.series[key].forEach((v, i) => (out[len - n.series[key].length + i] += v));
  return out;
}

async function act(label, cmd, data) {
  try {
    await client.call(cmd, data);
  } catch (err) {
    alert(`${label} failed: ${err.message ?? err}`);
  }
}

function draw() {
  drawn = false;
  const nodes = liveNodes();
  const now = Date.now();
  const conns = nodes.reduce((s, n) => s + n.connections, 0);
  $('#summary').textContent = `${nodes.length} node(s), ${conns} connection(s); connected to ${home}`;
  $('#charts').replaceChildren(
    sparkline('messages in', summed(nodes, 'messagesIn')),
    sparkline('messages out', summed(nodes, 'messagesOut')),
    sparkline('commands', summed(nodes, 'commands')),
    sparkline('command errors', summed(nodes, 'commandErrors')),
  );
  fill('#nodes', nodes.map((n) => [n.node, n.pid, fmtAge(now - n.startedAt), n.connections, fmtRate(n.rates.messagesIn), fmtRate(n.rates.messagesOut), fmtRate(n.rates.commands), fmtRate(n.rates.commandErrors)]));
  fill('#services', nodes.flatMap((n) => n.services.map((s) => [s.name, n.node, s.kind, s.isolation, cell(s.state, s.state), s.restarts, s.connections, button('Restart', () => act(`restart ${s.name}`, 'restart', { service: s.name }))])));
  const rooms = new Map();
  for (const n of nodes) for (const r of n.rooms) {
    const key = `${r.route}#${r.room}`;
    const seen = rooms.get(key) ?? { route: r.route, room: r.room, members: [] };
    seen.members.push(...r.members);
    rooms.set(key, seen);
  }
  // the table is rebuilt with every figure, each second: a room's message box is kept (with
  // what the operator is typing in it, and its focus) rather than made again
  const focused = document.activeElement;
  for (const key of roomInputs.keys()) if (!rooms.has(key)) roomInputs.delete(key);
  fill('#rooms', [...rooms.entries()].map(([key, r]) => {
    let input = roomInputs.get(key);
    if (input === undefined) {
      input = Object.assign(document.createElement('input'), { placeholder: 'JSON or text' });
      input.setAttribute('aria-label', `message for ${r.room}`);
      roomInputs.set(key, input);
    }
    const send = () => {
      let data = input.value;
      try { data = JSON.parse(data); } catch { /* plain text */ }
      void act(`send to ${r.room}`, 'send', { service: r.route, room: r.room, data }).then(() => (input.value = ''));
    };
    const span = document.createElement('span');
    span.append(input, button('Send', send));
    return [r.room, r.route, `${r.members.length}: ${r.members.join(', ')}`, span];
  }));
  if (focused instanceof HTMLInputElement && focused.isConnected && document.activeElement !== focused) focused.focus();
  const all = nodes.flatMap((n) => n.connectionList).sort((a, b) => b.openedAt - a.openedAt);
  fill('#connections', all.map((c) => [c.id, c.path, c.user ?? '–', c.rooms.join(', ') || '–', fmtBytes(c.bytesIn), fmtBytes(c.bytesOut), fmtAge(now - c.openedAt), button('Disconnect', () => act(`disconnect ${c.id}`, 'disconnect', { id: c.id }))]));
}

function setState(text, cls) {
  const el = $('#state');
  el.textContent = text;
  el.className = `state ${cls}`;
}

client.on('open', () => setState('live', 'up'));
client.on('close', () => setState('disconnected', 'down'));
client.on('reconnecting', () => setState('reconnecting…', 'down'));
$('#drain').addEventListener('click', () => {
  if (confirm(`Drain node ${home}? It stops accepting, lets commands finish, closes its connections (1001) and exits.`)) void act('drain', 'drain', {});
});

client.call('hello').then(
  (hello) => {
    home = hello.node;
    follow(home);
    for (const c of hello.cluster) follow(c.id);
  },
  (err) => setState(`refused: ${err.message ?? err}`, 'down'),
);
