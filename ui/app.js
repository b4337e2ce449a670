// OptiSchema dashboard: reads the proxy's JSON API and follows every NOTIFY on its WebSocket.
// Everything shown from the database goes through textContent, never innerHTML.
'use strict';

const state = {
  db: null,
  databases: [],
  readOnly: true,
  hot: [],
  seen: new Set(),
  sort: { key: 'total_ms', dir: 'desc' },
  current: null,
  delay: 500,
  pending: new Map(),
};
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const SVG = 'http://www.w3.org/2000/svg';

// The proxy's read token, when it has one: given in the page's address (#token=...), kept for
// this tab only and taken out of the address bar, sent with every request and the WebSocket.
const readToken = (() => {
  const given = new URLSearchParams(location.hash.slice(1)).get('token');
  if (given) {
    sessionStorage.setItem('optischema.read_token', given);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('optischema.read_token') || '';
})();

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  // an action's request carries the admin token, which the proxy takes for reading too
  if (readToken && !headers.Authorization) headers.Authorization = `Bearer ${readToken}`;
  const response = await fetch(path, { ...options, headers });
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { error: text }; }
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

const fmt = (n, digits = 1) => (n === null || n === undefined) ? '—'
  : Number(n).toLocaleString(undefined, { maximumFractionDigits: digits });
const oneLine = (s) => String(s || '').replace(/\s+/g, ' ').trim();

// ---- loading ---------------------------------------------------------------------------------

async function loadDatabases() {
  const info = await api('/api/databases');
  state.databases = info.databases;
  state.readOnly = info.read_only;
  const select = $('database');
  select.replaceChildren(...info.databases.map((d) => {
    const o = el('option', d.name);
    o.value = d.name;
    return o;
  }));
  const remembered = localStorage.getItem('optischema.db');
  state.db = info.databases.some((d) => d.name === remembered) ? remembered : info.databases[0]?.name;
  select.value = state.db;
  $('mode').textContent = state.readOnly ? 'read-only' : 'actions allowed';
}

function dbPath(rest) { return `/api/${enc(state.db)}/${rest}`; }

async function loadStatus() {
  const s = await api(dbPath('status'));
  const items = [
    ['Worker', s.worker_pid ? `running (pid ${s.worker_pid})` : 'not running'],
    ['Sampling every', s.sample_interval],
    ['Samples taken', fmt(s.samples_taken, 0)],
    ['Last sample', s.last_sample_at ? `${new Date(s.last_sample_at).toLocaleTimeString()} (${fmt(s.last_sample_ms, 1)} ms)` : '—'],
    ['Statements tracked', fmt(s.statements_tracked, 0)],
    ['AI tokens today', fmt(s.ai_tokens_today, 0)],
    ['AI budget left', fmt(s.ai_token_budget_left, 0)],
    ['Last error', s.last_error || s.ai_last_error || 'none'],
  ];
  $('status').replaceChildren(...items.map(([k, v]) => {
    const d = el('div');
    d.append(el('dt', k), el('dd', v));
    return d;
  }));
}

function sparkline(values) {
  const w = 120, h = 24;
  const s = svg('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: 'spark' });
  if (!values || values.length === 0) return s;
  const max = Math.max(...values, 1e-9);
  if (values.length === 1) {
    s.append(svg('circle', { cx: w - 3, cy: h - 2 - (values[0] / max) * (h - 4), r: 2, fill: '#2f6fdb' }));
    return s;
  }
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
  s.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: '#2f6fdb', 'stroke-width': 1.5 }));
  return s;
}

function renderHot() {
  const { key, dir } = state.sort;
  const rows = [...state.hot].sort((a, b) => {
    const x = a[key], y = b[key];
    const c = typeof x === 'string' ? String(x).localeCompare(String(y)) : (x ?? 0) - (y ?? 0);
    return dir === 'asc' ? c : -c;
  });
  for (const th of document.querySelectorAll('#hot th[data-key]')) {
    th.dataset.sort = th.dataset.key === key ? dir : '';
  }
  $('hot').tBodies[0].replaceChildren(...rows.map((q) => {
    const tr = el('tr');
    tr.dataset.queryid = q.queryid;
    if (!state.seen.has(String(q.queryid))) tr.classList.add('new');
    const query = el('td', oneLine(q.query), 'query');
    query.title = q.query || '';
    const spark = el('td');
    spark.append(sparkline(q.spark));
    tr.append(query, el('td', fmt(q.calls, 0), 'num'), el('td', fmt(q.total_ms), 'num'),
      el('td', fmt(q.mean_ms, 3), 'num'), el('td', fmt(q.rows, 0), 'num'),
      el('td', `${fmt(q.pct_of_total_time)} %`, 'num'), spark);
    return tr;
  }));
  for (const q of rows) state.seen.add(String(q.queryid));
  $('hot-empty').hidden = rows.length > 0;
}

async function loadHot() {
  state.hot = await api(dbPath(`hot?since=${enc($('since').value)}&limit=25`));
  renderHot();
}

async function loadHeat() {
  const data = await api(dbPath(`heatmap?since=${enc($('since').value)}&limit=15`));
  const box = $('heat');
  const n = data.buckets.length;
  if (n === 0 || data.statements.length === 0) {
    box.replaceChildren(el('p', 'No history in this window yet.', 'empty'));
    return;
  }
  const label = 340, row = 18, top = 18;
  const cell = Math.max(3, Math.min(16, Math.floor(900 / n)));
  const width = label + n * cell + 10;
  const height = top + data.statements.length * row + 4;
  const max = Math.max(...data.statements.flatMap((s) => s.cells), 1e-9);
  const s = svg('svg', { width, height, role: 'img', 'aria-label': 'total time per statement and minute' });
  const first = new Date(data.buckets[0]), last = new Date(data.buckets[n - 1]);
  const t0 = svg('text', { x: label, y: 12 }); t0.textContent = first.toLocaleTimeString();
  const t1 = svg('text', { x: width - 10, y: 12, 'text-anchor': 'end' }); t1.textContent = last.toLocaleTimeString();
  s.append(t0);
  if (n > 1) s.append(t1);
  data.statements.forEach((st, r) => {
    const y = top + r * row;
    const name = svg('text', { x: 0, y: y + 12 });
    name.textContent = oneLine(st.query).slice(0, 46);
    const full = svg('title'); full.textContent = st.query || '';
    name.append(full);
    s.append(name);
    st.cells.forEach((v, c) => {
      const share = Math.sqrt(v / max);
      const rect = svg('rect', {
        x: label + c * cell, y, width: cell - 1, height: row - 2,
        fill: v > 0 ? `rgba(29, 78, 216, ${(0.12 + 0.88 * share).toFixed(3)})` : '#eef1f6',
      });
      const tip = svg('title');
      tip.textContent = `${new Date(data.buckets[c]).toLocaleTimeString()}: ${fmt(v, 3)} ms`;
      rect.append(tip);
      s.append(rect);
    });
  });
  box.replaceChildren(s);
}

async function loadRecs() {
  const all = $('all-recs').checked;
  const recs = await api(dbPath(all ? 'recommendations' : 'recommendations?status=open'));
  $('recs').tBodies[0].replaceChildren(...recs.map((r) => {
    const tr = el('tr', null, 'clickable');
    tr.dataset.id = r.id;
    tr.addEventListener('click', () => openModal(r.id));
    const saves = r.est_ms_saved_per_hour !== null ? `${fmt(r.est_ms_saved_per_hour / 1000)} s/h` : '—';
    tr.append(el('td', r.id), el('td', r.kind), el('td', r.status), el('td', r.title),
      el('td', saves, 'num'), el('td', fmt(r.confidence, 2), 'num'));
    return tr;
  }));
  $('recs-empty').hidden = recs.length > 0;
}

async function loadFleet() {
  const fleet = await api('/api/fleet');
  $('fleet-table').tBodies[0].replaceChildren(...fleet.databases.map((d) => {
    const tr = el('tr');
    const top = d.summary?.top;
    tr.append(el('td', d.name), el('td', d.connected ? 'live' : `reconnecting${d.error ? ': ' + d.error : ''}`),
      el('td', top ? oneLine(top.query) : '—', 'query'), el('td', top ? fmt(top.total_ms) : '—', 'num'),
      el('td', d.summary ? d.summary.open_recommendations : '—', 'num'));
    return tr;
  }));
}

async function guarded(name, load) {
  try { await load(); } catch (e) { feed(null, `could not load ${name}: ${e.message}`); }
}

function refreshAll() {
  return Promise.all([
    guarded('status', loadStatus), guarded('hot queries', loadHot), guarded('heatmap', loadHeat),
    guarded('recommendations', loadRecs), guarded('fleet', loadFleet),
  ]);
}

// Coalesces bursts of events into one reload of each part.
function soon(name, load) {
  if (state.pending.has(name)) return;
  state.pending.set(name, setTimeout(() => { state.pending.delete(name); guarded(name, load); }, 250));
}

// ---- the recommendation modal ----------------------------------------------------------------

function planText(plan, depth = 0) {
  if (!plan) return '';
  let line = `${'  '.repeat(depth)}${depth ? '-> ' : ''}${plan['Node Type']}`;
  if (plan['Index Name']) line += ` using ${plan['Index Name']}`;
  if (plan['Relation Name']) line += ` on ${plan['Relation Name']}`;
  line += `  (cost ${plan['Total Cost']}, rows ${plan['Plan Rows']})`;
  for (const key of ['Index Cond', 'Filter', 'Hash Cond', 'Sort Key']) {
    if (plan[key]) line += `\n${'  '.repeat(depth + 2)}${key}: ${Array.isArray(plan[key]) ? plan[key].join(', ') : plan[key]}`;
  }
  return [line, ...(plan.Plans || []).map((p) => planText(p, depth + 1))].join('\n');
}

function canAct() {
  const db = state.databases.find((d) => d.name === state.db);
  return !state.readOnly && db && db.admin;
}

async function openModal(id) {
  const r = await api(dbPath(`recommendations/${enc(id)}`));
  state.current = r;
  $('m-title').textContent = r.title;
  $('m-kind').textContent = r.kind;
  $('m-status').textContent = r.status;
  $('m-source').textContent = `found by ${r.source}${r.rule ? ' (' + r.rule + ')' : ''}`;
  $('m-explanation').textContent = r.explanation;
  $('m-ai-box').hidden = !r.ai_explanation;
  $('m-ai').textContent = r.ai_explanation || '';
  $('m-sql').textContent = r.sql;
  const savings = [
    ['Projected improvement', r.est_improvement_pct !== null ? `${fmt(r.est_improvement_pct)} %` : '—'],
    ['Projected saving', r.est_ms_saved_per_hour !== null ? `${fmt(r.est_ms_saved_per_hour / 1000)} s/hour` : '—'],
    ['Confidence', fmt(r.confidence, 2)],
    ['Realized improvement', r.realized_improvement_pct !== null ? `${fmt(r.realized_improvement_pct)} %` : 'not measured'],
    ['Realized saving', r.realized_ms_saved_per_hour !== null ? `${fmt(r.realized_ms_saved_per_hour / 1000)} s/hour` : 'not measured'],
  ];
  $('m-savings').replaceChildren(...savings.map(([k, v]) => { const d = el('div'); d.append(el('dt', k), el('dd', v)); return d; }));
  const trial = r.evidence && r.evidence.trial;
  $('m-trial-box').hidden = !trial;
  if (trial) {
    const ran = (t) => t ? `${t.plan} (${fmt(t.ms, 3)} ms)` : null;
    const lines = [trial.after_ms !== null && trial.after_ms !== undefined
      ? `ran in ${trial.ran_in}: ${fmt(trial.before_ms, 3)} ms before, ${fmt(trial.after_ms, 3)} ms after (${fmt(trial.improvement_pct)} % faster)`
      : `ran in ${trial.ran_in}: the statements ran before the change only; after it, the planner's projection`];
    for (const s of trial.statements || []) {
      const after = ran(s.after) || (s.projected_cost_after !== undefined
        ? `planned cost ${fmt(s.projected_cost_before)} → ${fmt(s.projected_cost_after)} (projected)` : '—');
      lines.push(`statement ${s.queryid}${s.value_set ? ' values #' + s.value_set : ''}: ${ran(s.before) || '—'}  →  ${after}${s.error ? '  error: ' + s.error : ''}${s.note ? '  ' + s.note : ''}`);
    }
    $('m-trial').textContent = lines.join('\n');
  }
  $('m-query').textContent = r.query ? oneLine(r.query).slice(0, 120) : '';
  $('m-plan').textContent = r.queryid ? 'planning…' : 'no statement: a table-level recommendation';
  $('m-result').textContent = '';
  const allowed = canAct();
  $('token-label').hidden = !allowed;
  $('token').value = sessionStorage.getItem('optischema.token') || '';
  for (const b of document.querySelectorAll('#m-actions button')) {
    const a = b.dataset.action;
    const fits = (a === 'revert') ? r.status === 'applied' : (a === 'dismiss' ? r.status !== 'dismissed' : r.status === 'open');
    b.disabled = !allowed || !fits;
    b.title = allowed ? '' : 'read-only dashboard';
  }
  if (!$('modal').open) $('modal').showModal();
  if (r.queryid) {
    try {
      const e = await api(dbPath(`explain/${enc(r.queryid)}`));
      const plan = e.generic_plan && e.generic_plan[0] && e.generic_plan[0].Plan;
      $('m-plan').textContent = plan ? planText(plan) : (e.unexplainable || 'no plan');
    } catch (err) {
      $('m-plan').textContent = `no plan: ${err.message}`;
    }
  }
}

async function act(action) {
  const r = state.current;
  if (!r) return;
  const what = { trial: 'Try', apply: 'Apply', revert: 'Revert', dismiss: 'Dismiss' }[action];
  if (!window.confirm(`${what} recommendation ${r.id}?\n\n${r.sql}`)) return;
  const token = $('token').value.trim();
  sessionStorage.setItem('optischema.token', token);
  const result = $('m-result');
  try {
    const body = await api(dbPath(`recommendations/${enc(r.id)}/${action}`), {
      method: 'POST',
      headers: { 'Authorization': `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({}),
    });
    result.className = 'ok';
    result.textContent = body.action_id ? `${what}: queued as action ${body.action_id}; progress follows live.` : `${what}: done.`;
    soon('recommendations', loadRecs);
  } catch (e) {
    result.className = 'error';
    result.textContent = e.message;
  }
}

// ---- live events -----------------------------------------------------------------------------

function feed(db, text) {
  const li = el('li');
  li.append(el('time', new Date().toLocaleTimeString()), document.createTextNode(`${db ? db + ' · ' : ''}${text}`));
  const list = $('feed');
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

function describe(p) {
  switch (p.type) {
    case 'sample': return `sample: ${p.statements} statements ran, ${p.calls} calls, ${fmt(p.total_ms)} ms`;
    case 'hot_query': return `hot #${p.rank}: statement ${p.queryid}, ${fmt(p.mean_ms, 3)} ms a call`;
    case 'recommendation': return `recommendation ${p.id} (${p.kind}) ${p.status}`;
    case 'apply': return `${p.mode} of ${p.id}: ${p.phase}${p.pct !== null && p.pct !== undefined ? ' ' + p.pct + ' %' : ''}`;
    case 'trial': return `trial of ${p.id} (${p.ran_in}): ${fmt(p.before_ms, 3)} → ${fmt(p.after_ms, 3)} ms`;
    case 'realized': return `realized for ${p.id}: ${fmt(p.realized_improvement_pct)} %`;
    case 'ai_explanation': return `LLM explained statement ${p.queryid}`;
    case 'proxy': return `link ${p.state}${p.error ? ': ' + p.error : ''}`;
    default: return JSON.stringify(p);
  }
}

function onEvent(message) {
  const { db, payload } = message;
  if (!payload || typeof payload !== 'object') return;
  if (payload.type === 'hello') {
    for (const d of payload.databases) {
      const known = state.databases.find((x) => x.name === d.name);
      if (known) known.connected = d.connected;
    }
    return;
  }
  feed(db, describe(payload));
  if (payload.type === 'proxy') {
    const known = state.databases.find((x) => x.name === db);
    if (known) known.connected = payload.state === 'connected';
    if (db === state.db) showBanner(payload.state === 'connected' ? null : `database ${db}: reconnecting${payload.error ? ' (' + payload.error + ')' : ''}`);
    soon('fleet', loadFleet);
    if (db === state.db && payload.state === 'connected') refreshAll();
    return;
  }
  if (db !== state.db) { soon('fleet', loadFleet); return; }
  switch (payload.type) {
    case 'sample':
      soon('status', loadStatus); soon('hot queries', loadHot); soon('heatmap', loadHeat); soon('fleet', loadFleet);
      break;
    case 'hot_query':
      soon('hot queries', loadHot);
      break;
    default:
      soon('recommendations', loadRecs);
      if (state.current && $('modal').open && String(payload.id) === String(state.current.id)) {
        soon('modal', () => openModal(state.current.id));
      }
  }
}

function showBanner(text) {
  $('banner').hidden = !text;
  $('banner').textContent = text || '';
}

function connect() {
  const query = readToken ? `?token=${enc(readToken)}` : '';
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${query}`);
  ws.onopen = () => {
    state.delay = 500;
    $('link').dataset.state = 'live';
    $('link').textContent = 'live';
    showBanner(null);
    refreshAll();
  };
  ws.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (e) { console.error(e); } };
  ws.onclose = () => {
    $('link').dataset.state = 'reconnecting';
    $('link').textContent = 'reconnecting…';
    showBanner('The dashboard lost its link to the proxy: reconnecting…');
    setTimeout(connect, state.delay);
    state.delay = Math.min(state.delay * 2, 5000);
  };
}

// ---- start -----------------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', async () => {
  for (const th of document.querySelectorAll('#hot th[data-key]')) {
    th.addEventListener('click', () => {
      const key = th.dataset.key;
      state.sort = { key, dir: state.sort.key === key && state.sort.dir === 'desc' ? 'asc' : 'desc' };
      renderHot();
    });
  }
  $('since').addEventListener('change', () => { guarded('hot queries', loadHot); guarded('heatmap', loadHeat); });
  $('all-recs').addEventListener('change', () => guarded('recommendations', loadRecs));
  $('database').addEventListener('change', (e) => {
    state.db = e.target.value;
    localStorage.setItem('optischema.db', state.db);
    state.seen.clear();
    refreshAll();
  });
  for (const b of document.querySelectorAll('#m-actions button')) b.addEventListener('click', () => act(b.dataset.action));
  try {
    await loadDatabases();
  } catch (e) {
    showBanner(`The proxy does not answer: ${e.message}`);
  }
  connect();
});
