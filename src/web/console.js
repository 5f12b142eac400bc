// The Switchboard console: connect to a service, send text or commands, watch live values,
// see every message and close code. Plain browser JavaScript, served by the server itself; no
// build step.
import { applyPatch } from '/json-patch.js';

const $ = (id) => document.getElementById(id);
const log = $('log');
let ws = null;
let nextId = 1;

// Close codes that mean something went wrong, with what they mean. 1006 (the connection
// was lost without a Close frame) and 1011 (the server failed, e.g. the service crashed)
// are what a developer most needs to notice.
const FAILED_CLOSES = {
  1002: 'protocol error',
  1003: 'unsupported data',
  1006: 'connection lost without a close frame',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'extension required',
  1011: 'server error: the service failed',
  1015: 'TLS handshake failed',
};

/** Adds a log line; `badge` is a short label shown before the text (e.g. the error code). */
function line(kind, text, badge) {
  const li = document.createElement('li');
  li.className = kind;
  const t = document.createElement('span');
  t.className = 't';
  t.textContent = new Date().toLocaleTimeString();
  li.append(t);
  if (badge) {
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = badge;
    li.append(b);
  }
  li.append(document.createTextNode(text));
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

/** The error code of a command reply that failed (`{"ok": false, "error": {...}}`), else undefined. */
function failedReplyCode(text) {
  if (!text.startsWith('{') || !text.includes('"ok"')) return undefined;
  try {
    const msg = JSON.parse(text);
    if (msg && msg.ok === false) return (msg.error && msg.error.code) || 'error';
  } catch {
    // not JSON: a plain text message
  }
  return undefined;
}

// ---------------------------------------------------------------- live values

/** Watched live values by name: version, value and their card. */
const watched = new Map();
/** Command ids of live.subscribe calls on their way, by id. */
const subscribing = new Map();

function subscribeLive(name, since) {
  const id = nextId++;
  subscribing.set(id, name);
  const text = JSON.stringify({ id, cmd: 'live.subscribe', data: since === undefined ? { name } : { name, since } });
  ws.send(text);
  line('out', text);
}

function card(name) {
  let w = watched.get(name);
  if (w) return w;
  const article = document.createElement('article');
  article.dataset.name = name;
  const header = document.createElement('header');
  const title = document.createElement('span');
  title.textContent = name;
  const v = document.createElement('span');
  v.className = 'v';
  const stop = document.createElement('button');
  stop.textContent = 'Unwatch';
  stop.addEventListener('click', () => {
    watched.delete(name);
    article.remove();
    $('live').hidden = watched.size === 0;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: nextId++, cmd: 'live.unsubscribe', data: { name } }));
  });
  const pre = document.createElement('pre');
  header.append(title, v, stop);
  article.append(header, pre);
  $('live').append(article);
  $('live').hidden = false;
  w = { v: null, value: null, article, versionEl: v, pre };
  watched.set(name, w);
  return w;
}

function showLive(name, v, value) {
  const w = card(name);
  w.v = v;
  w.value = value;
  w.versionEl.textContent = `v${v}`;
  w.pre.textContent = JSON.stringify(value, null, 2);
  w.article.classList.remove('changed');
  void w.article.offsetWidth; // restart the flash
  w.article.classList.add('changed');
}

/** Keeps watched values current from live replies and pushes (every message is logged as well). */
function onLiveMessage(msg) {
  if (typeof msg.id === 'number' && subscribing.has(msg.id)) {
    const name = subscribing.get(msg.id);
    subscribing.delete(msg.id);
    if (msg.ok !== true) return;
    const d = msg.data;
    if ('value' in d) showLive(name, d.v, d.value);
    else {
      const w = card(name);
      let value = w.value;
      for (const p of d.patches) value = applyPatch(value, p.patch);
      showLive(name, d.v, value);
    }
    return;
  }
  const w = typeof msg.name === 'string' ? watched.get(msg.name) : undefined;
  if (!w) return;
  if (msg.event === 'live.value') showLive(msg.name, msg.v, msg.value);
  else if (msg.event === 'live.patch') {
    if (w.v !== null && msg.v <= w.v) return;
    if (w.v === null || msg.v !== w.v + 1) {
      line('info', `live ${msg.name}: version ${msg.v} after ${w.v}, asking again`);
      subscribeLive(msg.name, w.v ?? undefined);
      return;
    }
    showLive(msg.name, msg.v, applyPatch(w.value, msg.patch));
  }
}

function setState(state) {
  const status = $('status');
  status.textContent = state === 'open' ? `connected ${ws ? ws.url : ''}` : state;
  status.className = `status ${state === 'open' ? 'open' : state === 'connecting' ? 'connecting' : 'closed'}`;
  $('connect').disabled = state !== 'disconnected';
  $('disconnect').disabled = state !== 'open';
  $('send').disabled = state !== 'open';
}

function serviceUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path.startsWith('/') ? path : '/' + path}`;
}

function connect() {
  const url = serviceUrl($('path').value.trim());
  const protocols = $('protocols').value.split(',').map((s) => s.trim()).filter(Boolean);
  line('info', `connecting to ${url}${protocols.length ? ' (' + protocols.join(', ') + ')' : ''}`);
  setState('connecting');
  try {
    ws = new WebSocket(url, protocols);
  } catch (err) {
    line('error', String(err));
    setState('disconnected');
    return;
  }
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => {
    line('info', `open${ws.protocol ? ', subprotocol ' + ws.protocol : ''}${ws.extensions ? ', extensions ' + ws.extensions : ''}`);
    setState('open');
  });
  ws.addEventListener('message', (e) => {
    if (typeof e.data === 'string') {
      if (e.data.includes('"live.') || subscribing.size > 0) {
        try {
          onLiveMessage(JSON.parse(e.data));
        } catch {
          // not JSON: logged below as it is
        }
      }
      const failed = failedReplyCode(e.data);
      if (failed !== undefined) line('in failed', e.data, failed);
      else line('in', e.data);
    }
    else line('in', `[binary ${e.data.byteLength} bytes] ${[...new Uint8Array(e.data).slice(0, 32)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  });
  ws.addEventListener('error', () => line('error', 'error (the browser does not say more; a rejected handshake shows here: 404 no service, 500 broken service, 401 auth)'));
  ws.addEventListener('close', (e) => {
    const text = `closed: code ${e.code}${e.reason ? ', reason "' + e.reason + '"' : ''}${e.wasClean ? '' : ' (not clean)'}`;
    const failure = FAILED_CLOSES[e.code];
    if (failure) line('abnormal', `${text}: ${failure}`, `close ${e.code}`);
    else line('info', text);
    ws = null;
    subscribing.clear();
    setState('disconnected');
  });
}

function send() {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const mode = document.querySelector('input[name="mode"]:checked').value;
  let text;
  if (mode === 'live') {
    const name = $('live-name').value.trim();
    if (!name) return line('error', 'name a live value to watch');
    // watched again after a reconnect: from the version held
    const held = watched.get(name);
    return subscribeLive(name, held && held.v !== null ? held.v : undefined);
  }
  if (mode === 'text') {
    text = $('text').value;
  } else {
    const cmd = $('cmd').value.trim();
    const raw = $('data').value.trim();
    let data = null;
    if (raw) {
      try {
        data = JSON.parse(raw);
      } catch (err) {
        line('error', `data is not JSON: ${err.message}`);
        return;
      }
    }
    text = JSON.stringify({ id: nextId++, cmd, data });
  }
  ws.send(text);
  line('out', text);
}

async function loadServices() {
  try {
    const res = await fetch('/services.json');
    const { services } = await res.json();
    const list = $('services');
    for (const s of services) {
      const o = document.createElement('option');
      o.value = s;
      list.append(o);
    }
    if (services.length) line('info', `services: ${services.join(', ')}`);
  } catch {
    // the list is a convenience
  }
}

$('connect').addEventListener('click', connect);
$('disconnect').addEventListener('click', () => {
  const code = Number($('close-code').value) || 1000;
  ws?.close(code, $('close-reason').value);
});
$('send').addEventListener('click', send);
$('clear').addEventListener('click', () => log.replaceChildren());
for (const el of [$('text'), $('data'), $('live-name')]) {
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey || e.target === $('live-name'))) send();
  });
}
for (const r of document.querySelectorAll('input[name="mode"]')) {
  r.addEventListener('change', () => {
    if (r.checked) {
      $('command-form').hidden = r.value !== 'command';
      $('text-form').hidden = r.value !== 'text';
      $('live-form').hidden = r.value !== 'live';
      $('send').textContent = r.value === 'live' ? 'Watch' : 'Send';
    }
  });
}
const params = new URLSearchParams(location.search);
if (params.get('path')) $('path').value = params.get('path');
setState('disconnected');
loadServices();
