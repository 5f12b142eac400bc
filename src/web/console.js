// The Switchboard console: connect to a service, send text or commands, see every message and
// close code. Plain browser JavaScript, served by the server itself; no build step.
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
    setState('disconnected');
  });
}

function send() {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const mode = document.querySelector('input[name="mode"]:checked').value;
  let text;
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
for (const el of [$('text'), $('data')]) {
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send();
  });
}
for (const r of document.querySelectorAll('input[name="mode"]')) {
  r.addEventListener('change', () => {
    const command = r.value === 'command' && r.checked;
    if (r.checked) {
      $('command-form').hidden = !command;
      $('text-form').hidden = command;
    }
  });
}
const params = new URLSearchParams(location.search);
if (params.get('path')) $('path').value = params.get('path');
setState('disconnected');
loadServices();
