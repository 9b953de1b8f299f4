// The Trellis dashboard: plain ES modules, no build step, every asset served by the API's own process.
const page = document.getElementById('page');
const tokenKey = 'trellis.token';
let me = null;          // { name, scope } of the token in use
/** What the user opened on a run's page (per-item steps, the step shown), kept across its live refreshes. */
let runView = null;
let refreshingRun = null; // the run whose page a live refresh is drawing again
let refreshTimer = null;

/** An element with attributes and children (strings become text, never HTML). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) if (child) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

/** Replaces an element's children; arrays are flattened, and null, undefined and false leave nothing. */
function fill(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter(c => c !== null && c !== undefined && c !== false)
    .map(c => c instanceof Node ? c : document.createTextNode(String(c))));
}

class Unauthorized extends Error {}

/** Calls the API with the session's token; a 401 sends the user back to the login. */
async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { 'Authorization': `Bearer ${sessionStorage.getItem(tokenKey) ?? ''}`, 'Content-Type': 'application/json', ...(options.headers ?? {}) },
  });
  if (response.status === 401) throw new Unauthorized();
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.detail ?? `${response.status} ${response.statusText}`);
  return body;
}

/** A colour of the style sheet (--completed, --failed, …), for SVG fills. */
const colour = name => getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
const statusBadge = status => h('span', { class: `status ${status}` }, status);
const time = value => value ? new Date(value).toISOString().replace('T', ' ').slice(0, 19) : '';
const took = (from, to) => {
  if (!from || !to) return '';
  const ms = new Date(to) - new Date(from);
  return ms < 1000 ? `${ms} ms` : ms < 120000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60000).toFixed(1)} min`;
};
const clip = (text, max) => text.length <= max ? text : `${text.slice(0, max - 1)}…`;
/** A stored value pretty-printed; a large one folded, with its size, until opened. */
const json = value => {
  const text = value === undefined ? '' : JSON.stringify(value, null, 2);
  const pre = h('pre', { class: 'json' }, text);
  return text.length <= 4000 ? pre : h('details', { class: 'large' }, h('summary', {}, `${(text.length / 1024).toFixed(1)} KB, ${text.split('\n').length} lines: show`), pre);
};

function stopRefresh() {
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = null;
}

function showLogin(message) {
  stopRefresh();
  me = null;
  document.getElementById('who').textContent = '';
  document.getElementById('logout').hidden = true;
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', 'aria-label': 'API token' });
  const form = h('form', { class: 'login', onsubmit: async event => {
    event.preventDefault();
    sessionStorage.setItem(tokenKey, input.value.trim());
    await route();
  } },
    h('h1', {}, 'Trellis'),
    h('p', {}, 'Enter an API token (read or admin). It is kept for this browser session only.'),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
    h('label', { for: 'token' }, 'Token'), input,
    h('button', { type: 'submit' }, 'Log in'));
  fill(page, form);
  input.focus();
}

async function ensureLoggedIn() {
  if (me) return true;
  try {
    me = await api('/api/me');
  } catch (error) {
    if (error instanceof Unauthorized) {
      showLogin(sessionStorage.getItem(tokenKey) ? 'That token is not valid.' : null);
      return false;
    }
    throw error;
  }
  document.getElementById('who').textContent = `${me.name} (${me.scope})`;
  document.getElementById('logout').hidden = false;
  return true;
}

const isAdmin = () => me?.scope === 'admin';

// ----- Runs list -----------------------------------------------------------------------------------------------

async function runsPage(params) {
  const filters = Object.fromEntries(['status', 'workflow', 'queue', 'tag', 'since', 'until'].map(name => [name, params.get(name) ?? '']));
  let cursor = params.get('cursor');
  let paused = false;
  const counts = h('div', { class: 'counts', 'aria-live': 'polite' });
  const body = h('tbody');
  const more = h('p');
  const pause = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume live refresh' : 'Pause live refresh';
    pause.setAttribute('aria-pressed', String(paused));
  } }, 'Pause live refresh');
  const find = h('input', { id: 'find', placeholder: 'run id', 'aria-label': 'Find a run by id' });
  const form = h('form', { class: 'filters', onsubmit: event => {
    event.preventDefault();
    const query = new URLSearchParams(Object.entries(Object.fromEntries(new FormData(form))).filter(([, v]) => v));
    location.hash = `#/runs?${query}`;
  } },
    h('label', {}, 'Status', h('select', { name: 'status' }, ['', 'pending', 'running', 'waiting', 'completed', 'failed', 'cancelled']
      .map(s => h('option', { value: s, selected: s === filters.status }, s || 'any')))),
    h('label', {}, 'Workflow', h('input', { name: 'workflow', value: filters.workflow })),
    h('label', {}, 'Queue', h('input', { name: 'queue', value: filters.queue })),
    h('label', {}, 'Tag (key=value)', h('input', { name: 'tag', value: filters.tag })),
    h('label', {}, 'Created since (2h, 7d)', h('input', { name: 'since', value: filters.since })),
    h('label', {}, 'Created before (1h, ISO time)', h('input', { name: 'until', value: filters.until })),
    h('button', { type: 'submit' }, 'Filter'));
  const findForm = h('form', { class: 'filters', onsubmit: event => {
    event.preventDefault();
    if (find.value.trim()) location.hash = `#/runs/${encodeURIComponent(find.value.trim())}`;
  } }, find, h('button', { type: 'submit' }, 'Open run'), pause);

  fill(page, h('h1', {}, 'Runs'), counts, form, findForm,
    h('table', { 'aria-label': 'Runs' }, h('thead', {}, h('tr', {}, ['Run', 'Workflow', 'Queue', 'Status', 'Created (UTC)', 'Took', 'Progress'].map(c => h('th', { scope: 'col' }, c)))), body),
    more);

  async function load() {
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    query.set('limit', '50');
    if (cursor) query.set('cursor', cursor);
    const [list, stats] = await Promise.all([api(`/api/runs?${query}`), api('/api/stats?window=24h')]);
    const byStatus = {};
    for (const c of [...stats.liveRuns, ...stats.finishedRuns]) byStatus[c.status] = (byStatus[c.status] ?? 0) + c.count;
    fill(counts, ...['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled']
      .map(s => h('a', { class: 'count', href: `#/runs?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v)), status: s })}`,
        title: `List the ${s} runs` }, statusBadge(s), ` ${byStatus[s] ?? 0}`)),
      h('span', { class: 'muted' }, 'live now, and finished in the last 24 h'));
    // A refresh must not take the keyboard's place away: the run link that had the focus gets it back.
    const focused = body.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
    fill(body, ...list.runs.map(run => {
      const open = () => { location.hash = `#/runs/${encodeURIComponent(run.id)}`; };
      // The row opens the run on a click; for the keyboard, its link is the one stop (a focusable row around a link would nest them).
      return h('tr', { class: 'run-row', onclick: open },
        h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(run.id)}` }, run.id)),
        h('td', {}, run.workflow), h('td', {}, run.queue), h('td', {}, statusBadge(run.status)), h('td', {}, time(run.createdAt)),
        h('td', {}, took(run.startedAt ?? run.createdAt, run.completedAt)),
        h('td', {}, run.progressPercent == null ? '' : `${Math.round(run.progressPercent)}%`));
    }));
    if (focused) body.querySelector(`a[href="${CSS.escape(focused)}"]`)?.focus();
    fill(more, list.nextCursor
      ? h('a', { href: `#/runs?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v)), cursor: list.nextCursor })}` }, 'Next page')
      : (list.runs.length ? '' : 'No runs.'));
  }

  await load();
  refreshTimer = setInterval(() => { if (!paused && !cursor) load().catch(() => {}); }, 3000);
}

// ----- Run page --------------------------------------------------------------------------------------------------

async function runPage(id) {
  const [run, steps, history, children] = await Promise.all([
    api(`/api/runs/${encodeURIComponent(id)}`), api(`/api/runs/${encodeURIComponent(id)}/steps`),
    api(`/api/runs/${encodeURIComponent(id)}/history`), api(`/api/runs/${encodeURIComponent(id)}/children`)]);
  const detail = h('div', { class: 'panel', id: 'step-data', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Select a step in the timeline to see its stored data, or a per-item step ("show … items") to see each item\'s.'));
  const items = {}; // per-item step rows by position, loaded when expanded
  const refreshing = refreshingRun === id && runView?.id === id;
  refreshingRun = null;
  if (!refreshing) runView = { id, expanded: new Set(), shown: null }; // shown: { sequence, itemIndex } or { items: sequence }
  const view = runView;
  const scrolledTo = window.scrollY;

  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Status'), h('dd', {}, statusBadge(run.status), run.waitReason ? ` ${run.waitReason}` : ''),
    h('dt', {}, 'Workflow'), h('dd', {}, `${run.workflow} v${run.version}`),
    h('dt', {}, 'Queue'), h('dd', {}, run.queue),
    h('dt', {}, 'Created'), h('dd', {}, time(run.createdAt)),
    h('dt', {}, 'Finished'), h('dd', {}, run.completedAt ? `${time(run.completedAt)} (took ${took(run.startedAt ?? run.createdAt, run.completedAt)})` : ''),
    h('dt', {}, 'Attempts'), h('dd', {}, `${run.attempt} of ${run.maxAttempts}; worker losses ${run.workerLosses} of ${run.maxWorkerLosses}`),
    run.lockedBy ? [h('dt', {}, 'Lease holder'), h('dd', {}, `${run.lockedBy} until ${time(run.leaseExpiresAt)}`)] : null,
    run.progressPercent == null ? null : [h('dt', {}, 'Progress'), h('dd', {}, h('span', { class: 'progress', role: 'progressbar', 'aria-label': 'Progress', 'aria-valuenow': run.progressPercent, 'aria-valuemin': 0, 'aria-valuemax': 100 },
      Object.assign(h('span'), { style: `width:${run.progressPercent}%` })), ` ${Math.round(run.progressPercent)}% ${run.progressMessage ?? ''}`)],
    run.parentRunId ? [h('dt', {}, 'Parent'), h('dd', {}, h('a', { href: `#/runs/${encodeURIComponent(run.parentRunId)}` }, run.parentRunId))] : null,
    run.forkedFromRunId ? [h('dt', {}, 'Forked from'), h('dd', {}, h('a', { href: `#/runs/${encodeURIComponent(run.forkedFromRunId)}` }, run.forkedFromRunId), ` at step ${run.forkedAtStep}`)] : null);

  // Only what the run's state allows: cancel a live run, retry a failed one, resume a cancelled one or one stopped by worker losses.
  const allowed = [
    ['pending', 'running', 'waiting'].includes(run.status) ? 'cancel' : null,
    run.status === 'failed' && run.error?.type !== 'Trellis.WorkerLossLimitExceeded' ? 'retry' : null,
    run.status === 'cancelled' || run.error?.type === 'Trellis.WorkerLossLimitExceeded' ? 'resume' : null,
  ].filter(Boolean);
  const actions = isAdmin() && allowed.length ? h('div', { class: 'actions' },
    allowed.map(action => h('button', { type: 'button', class: action === 'cancel' ? 'danger' : null, onclick: () => control(action) }, action[0].toUpperCase() + action.slice(1)))) : null;

  async function control(action, body) {
    if (!confirm(`${action} run ${id}?`)) return;
    try {
      const result = await api(`/api/runs/${encodeURIComponent(id)}/${action}`, { method: 'POST', body: body ? JSON.stringify(body) : undefined });
      location.hash = `#/runs/${encodeURIComponent(result.id)}`;
      if (result.id === id) await route();
    } catch (error) {
      alert(error.message);
    }
  }

  function showStep(step) {
    view.shown = { sequence: step.sequence, itemIndex: step.itemIndex };
    fill(detail,
      h('h2', {}, step.itemIndex == null ? `Step ${step.sequence}: ${step.name}` : `${step.name}, item ${step.itemIndex}`),
      h('p', {}, statusBadge(step.status), ` ${step.attempts} attempt(s), started ${time(step.startedAt)}, took ${took(step.startedAt, step.completedAt)}`),
      step.result !== undefined ? [h('h2', {}, 'Result'), json(step.result),
        h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(step.result, null, 2)], { type: 'application/json' })), download: `${id}-${step.sequence}${step.itemIndex == null ? '' : '-' + step.itemIndex}.json` }, 'Download')] : null,
      (step.attemptErrors ?? []).map((e, i) => h('div', { class: 'error' }, h('h2', {}, `Attempt ${e.attempt ?? i + 1} failed: ${e.type}`), h('p', {}, e.message), e.stack ? h('pre', { class: 'json' }, e.stack) : null)),
      step.error && !(step.attemptErrors ?? []).length ? h('div', { class: 'error' }, h('h2', {}, step.error.type), h('p', {}, step.error.message), step.error.stack ? h('pre', { class: 'json' }, step.error.stack) : null) : null,
      isAdmin() && step.itemIndex == null ? h('button', { type: 'button', onclick: () => control('fork', { fromStep: step.sequence }) }, `Fork from this step`) : null);
  }

  const timeline = h('div');
  function drawTimeline() {
    const rows = [];
    for (const step of steps.steps) rows.push({ step, label: `${step.sequence} ${step.name}` });
    for (const perItem of steps.perItemSteps) {
      rows.push({ perItem, label: `${perItem.sequence} ${perItem.name} (${items[perItem.sequence] ? 'hide' : 'show'} ${perItem.items} items)` });
      for (const item of items[perItem.sequence] ?? []) rows.push({ step: item, label: `  item ${item.itemIndex}` });
    }
    rows.sort((a, b) => (a.step?.sequence ?? a.perItem.sequence) - (b.step?.sequence ?? b.perItem.sequence));
    const spans = rows.map(r => r.step ?? r.perItem).filter(span => span.startedAt);
    const start = Math.min(...spans.map(span => new Date(span.startedAt)), new Date(run.createdAt));
    const end = Math.max(...spans.map(span => new Date(span.completedAt ?? Date.now())), start + 1);
    const width = 900, labelWidth = 240, rowHeight = 18;
    const x = t => labelWidth + (new Date(t) - start) / (end - start) * (width - labelWidth - 10);
    const chart = svg('svg', { class: 'gantt', viewBox: `0 0 ${width} ${rows.length * rowHeight + 4}`, role: 'group', 'aria-label': 'Step timeline' });
    rows.forEach((row, i) => {
      const y = i * rowHeight + 2;
      chart.append(svg('text', { class: 'label', x: 4, y: y + 13 }, row.label));
      if (row.perItem) {
        chart.lastChild.classList.add('toggle');
        // The step's span, from its first item's start to its last item's end, coloured by how its items stand.
        const p = row.perItem;
        if (p.startedAt) {
          const state = p.failed ? 'failed' : p.running ? 'running' : 'completed';
          chart.append(svg('rect', { x: x(p.startedAt), y: y + 3, width: Math.max(3, x(p.completedAt && !p.running ? p.completedAt : Date.now()) - x(p.startedAt)), height: rowHeight - 10, fill: colour(state) },
            svg('title', {}, `${p.items} items: ${p.completed} completed, ${p.failed} failed, ${p.running} in flight`)));
        }
        const toggle = svg('rect', { x: 0, y, width: labelWidth, height: rowHeight - 2, fill: 'transparent', class: 'bar', tabindex: 0, role: 'button', 'aria-label': row.label,
          onclick: () => toggleItems(row.perItem), onkeydown: e => { if (e.key === 'Enter') toggleItems(row.perItem); } });
        chart.append(toggle);
        return;
      }
      const step = row.step;
      if (!step.startedAt) return;
      const color = colour(step.status) || '#888';
      // Failed attempts, each a segment of its own, before the last attempt's bar.
      let from = step.startedAt;
      for (const e of step.attemptErrors ?? []) {
        if (!e.at) continue;
        chart.append(svg('rect', { x: x(from), y, width: Math.max(2, x(e.at) - x(from)), height: rowHeight - 4, fill: colour('failed'), opacity: 0.6 }));
      }
      const bar = svg('rect', { class: 'bar', x: x(from), y, width: Math.max(3, x(step.completedAt ?? Date.now()) - x(from)), height: rowHeight - 4, fill: color, tabindex: 0, role: 'button',
        'aria-label': `${row.label.trim()}: ${step.status}`, onclick: () => showStep(step), onkeydown: e => { if (e.key === 'Enter') showStep(step); } });
      chart.append(bar);
    });
    fill(timeline, chart);
  }

  async function loadItems(sequence) {
    const rows = [];
    for (let after = -1; ;) {
      const pageOfItems = await api(`/api/runs/${encodeURIComponent(id)}/steps?seq=${sequence}&after=${after}&limit=1000`);
      rows.push(...pageOfItems.items);
      if (pageOfItems.nextAfter == null) break;
      after = pageOfItems.nextAfter;
    }
    items[sequence] = rows;
  }

  async function toggleItems(perItem) {
    const sequence = perItem.sequence;
    if (items[sequence]) { delete items[sequence]; view.expanded.delete(sequence); drawTimeline(); return; }
    await loadItems(sequence);
    view.expanded.add(sequence);
    drawTimeline();
    showItems(perItem, items[sequence]);
  }

  // A per-item step's items side by side: each one's status, time and stored result (clipped; a click shows it whole).
  function showItems(perItem, rows) {
    view.shown = { items: perItem.sequence };
    fill(detail,
      h('h2', {}, `Step ${perItem.sequence}: ${perItem.name}, ${rows.length} item(s)`),
      h('table', { 'aria-label': `Items of ${perItem.name}` },
        h('thead', {}, h('tr', {}, ['Item', 'Status', 'Attempts', 'Took', 'Result'].map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.map(item => h('tr', {},
          h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => showStep(item) }, `item ${item.itemIndex}`)),
          h('td', {}, statusBadge(item.status)), h('td', {}, item.attempts), h('td', {}, took(item.startedAt, item.completedAt)),
          h('td', { class: 'result' }, item.result === undefined ? (item.error ? item.error.message : '') : clip(JSON.stringify(item.result), 200)))))));
  }

  // What a waiting run waits for, and until when (its wake-up: a timeout, a sleep's end, or its deadline).
  let waits = null;
  if (run.status === 'waiting') {
    const until = new Date(run.scheduledAt).getUTCFullYear() < 9000 ? ` until ${time(run.scheduledAt)} UTC` : '';
    const event = /^event (.+) \/ (.+)$/.exec(run.waitReason ?? '');
    const data = h('textarea', { id: 'event-data', rows: 3, cols: 50, 'aria-label': 'Event data (JSON)' });
    const publish = event && isAdmin() ? h('form', { class: 'filters', onsubmit: async e => {
      e.preventDefault();
      try {
        const text = data.value.trim();
        await api('/api/events', { method: 'POST', body: JSON.stringify({ name: event[1], key: event[2], data: text ? JSON.parse(text) : null }) });
        await route();
      } catch (error) {
        alert(error.message);
      }
    } }, h('label', {}, 'Data (JSON)', data), h('button', { type: 'submit' }, `Publish ${event[1]} / ${event[2]}`)) : null;
    waits = h('div', { class: 'panel', id: 'waits' }, h('h2', {}, 'Waiting'), h('p', {}, `Waits for ${run.waitReason ?? 'something'}${until}.`), publish);
  }

  // A refresh opens again what the user had open: the per-item steps, and the step, item or items shown.
  await Promise.all([...view.expanded].filter(sequence => steps.perItemSteps.some(p => p.sequence === sequence)).map(loadItems));
  const shown = view.shown;
  if (shown?.items !== undefined && items[shown.items]) showItems(steps.perItemSteps.find(p => p.sequence === shown.items), items[shown.items]);
  else if (shown) {
    const step = shown.itemIndex == null ? steps.steps.find(st => st.sequence === shown.sequence)
      : (items[shown.sequence] ?? []).find(item => item.itemIndex === shown.itemIndex);
    if (step) showStep(step);
  }
  drawTimeline();
  fill(page,
    h('h1', {}, `Run ${run.id}`), facts, actions, waits,
    run.error ? h('div', { class: 'panel error' }, h('h2', {}, `Error: ${run.error.type}`), h('p', {}, run.error.message), run.error.stack ? h('pre', { class: 'json' }, run.error.stack) : null) : null,
    h('h2', {}, 'Input'), json(run.input),
    run.output !== undefined ? [h('h2', {}, 'Output'), json(run.output)] : null,
    h('h2', {}, 'Steps'), timeline, detail,
    children.length ? [h('h2', {}, 'Children'), h('ul', {}, children.map(c => h('li', {}, h('a', { href: `#/runs/${encodeURIComponent(c.id)}` }, c.id), ' ', statusBadge(c.status))))] : null,
    h('h2', {}, 'History'),
    h('table', { 'aria-label': 'History' }, h('thead', {}, h('tr', {}, ['At (UTC)', 'Event', 'Worker', 'Attempt', 'Detail'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, history.map(e => h('tr', {}, h('td', { class: 'nowrap' }, time(e.at)), h('td', {}, e.event), h('td', {}, e.workerId ?? ''), h('td', {}, e.attempt ?? ''),
        h('td', { title: e.detail ? JSON.stringify(e.detail) : null }, e.detail ? clip(JSON.stringify(e.detail), 160) : ''))))));
  if (refreshing) window.scrollTo(0, scrolledTo);
  if (['pending', 'running', 'waiting'].includes(run.status)) refreshTimer = setInterval(() => { refreshingRun = id; route().catch(() => {}); }, 3000);
}

// ----- Charts ----------------------------------------------------------------------------------------------------

/**
 * Points (each with a `minute`) put into `count` buckets of `bucketMinutes` ending with the one `at` falls in: empty
 * buckets included, so that a quiet hour shows as one. Returns the buckets (arrays of points) and each bucket's start.
 */
function timeBuckets(points, at, bucketMinutes, count) {
  const bucket = bucketMinutes * 60000;
  const last = Math.floor(new Date(at) / bucket) * bucket, first = last - (count - 1) * bucket;
  const buckets = Array.from({ length: count }, () => []);
  for (const point of points) {
    const slot = Math.floor((new Date(point.minute) - first) / bucket);
    if (slot >= 0 && slot < count) buckets[slot].push(point);
  }
  return { buckets, startOf: i => first + i * bucket };
}

/** A bar per slot on a time axis, its parts ({ name, count, colour }) stacked, each with its count as hover text. */
function stackedBars({ label, id, slots, slotLabel }) {
  const peak = Math.max(1, ...slots.map(parts => parts.reduce((sum, part) => sum + part.count, 0)));
  const width = 900, height = 170, left = 40, step = (width - left) / slots.length;
  const chart = svg('svg', { class: 'gantt', id, viewBox: `0 0 ${width} ${height + 24}`, role: 'img', 'aria-label': label },
    svg('text', { class: 'label', x: 0, y: 12 }, String(peak)), svg('text', { class: 'label', x: 0, y: height }, '0'),
    svg('text', { class: 'label', x: left, y: height + 18 }, slotLabel(0)),
    svg('text', { class: 'label', x: width - 80, y: height + 18 }, slotLabel(slots.length - 1)));
  slots.forEach((parts, i) => {
    let y = height;
    for (const part of parts) {
      if (!part.count) continue;
      const barHeight = part.count / peak * (height - 10);
      y -= barHeight;
      chart.append(svg('rect', { x: left + i * step, y, width: Math.max(1, step - 1), height: barHeight, fill: part.colour },
        svg('title', {}, `${slotLabel(i)} ${part.name}: ${part.count}`)));
    }
  });
  return chart;
}

// ----- Overview --------------------------------------------------------------------------------------------------

async function overviewPage(params) {
  const window = ['1h', '6h', '24h', '7d'].includes(params.get('window')) ? params.get('window') : '1h';
  const data = await api(`/api/analytics?window=${window}`);

  // Runs finished over the window by outcome: a bar per minute over an hour, up to one per two hours over a week.
  const bucketMinutes = { '1h': 1, '6h': 5, '24h': 15, '7d': 120 }[window];
  const { buckets, startOf } = timeBuckets(data.throughput, data.at, bucketMinutes, { '1h': 60, '6h': 72, '24h': 96, '7d': 84 }[window]);
  const outcomes = ['completed', 'failed', 'cancelled'];
  const per = bucketMinutes === 1 ? 'minute' : bucketMinutes < 60 ? `${bucketMinutes} minutes` : `${bucketMinutes / 60} hours`;
  const chart = stackedBars({
    label: `Runs finished per ${per} over the last ${window}`,
    slots: buckets.map(points => outcomes.map(outcome => ({ name: outcome, count: points.reduce((sum, p) => sum + p[outcome], 0), colour: colour(outcome) }))),
    slotLabel: i => time(new Date(startOf(i)).toISOString()).slice(window === '7d' ? 5 : 11, 16),
  });
  const anyFinished = data.throughput.some(p => p.completed + p.failed + p.cancelled);

  const figures = (first, rows) => h('table', {}, h('thead', {}, h('tr', {}, [first, 'Active', 'Completed', 'Failed', 'Cancelled'].map(c => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map(([label, f]) => h('tr', {}, h('td', {}, label), h('td', {}, f.active), h('td', {}, f.completed), h('td', {}, f.failed), h('td', {}, f.cancelled)))));
  const ms = value => value < 1000 ? `${value.toFixed(1)} ms` : `${(value / 1000).toFixed(2)} s`;
  fill(page,
    h('h1', {}, 'Overview'),
    h('p', {}, 'Window: ', ['1h', '6h', '24h', '7d'].map(w => [w === window ? h('strong', {}, w) : h('a', { href: `#/overview?window=${w}` }, w), ' ']),
      h('span', { class: 'muted' }, `figures made ${time(data.at)} UTC; active runs are live now, the rest were created in the window`)),
    h('h2', {}, `Runs finished per ${per}`),
    h('p', { class: 'muted' }, h('span', { class: 'status completed' }, 'completed'), ' ', h('span', { class: 'status failed' }, 'failed'), ' ', h('span', { class: 'status cancelled' }, 'cancelled')),
    anyFinished ? chart : h('p', {}, 'No run finished in the window.'),
    h('h2', {}, 'Per workflow'), figures('Workflow', data.workflows.map(f => [f.workflow, f])),
    data.tags.length ? [h('h2', {}, 'Per tag'), figures('Tag', data.tags.slice(0, 20).map(f => [`${f.tagKey}=${f.tagValue}`, f]))] : null,
    h('h2', {}, 'Step durations'),
    h('table', {}, h('thead', {}, h('tr', {}, ['Workflow', 'Step', 'Count', 'p50', 'p90', 'p99', 'Max'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, data.steps.map(st => h('tr', {}, h('td', {}, st.workflow), h('td', {}, st.step), h('td', {}, st.count),
        h('td', {}, ms(st.p50Ms)), h('td', {}, ms(st.p90Ms)), h('td', {}, ms(st.p99Ms)), h('td', {}, ms(st.maxMs)))))));
  refreshTimer = setInterval(() => { if (location.hash.startsWith('#/overview')) overviewPage(params).catch(() => {}); }, 10000);
}

// ----- Queues ----------------------------------------------------------------------------------------------------

const queueColours = ['#0969da', '#1a7f37', '#8250df', '#bc4c00', '#1b7c83', '#9a6700', '#cf222e', '#57606a'];

async function queuesPage() {
  const data = await api('/api/queues?window=1h');
  const colourOf = new Map(data.queues.map((q, i) => [q.queue, queueColours[i % queueColours.length]]));
  const runsOf = (queue, status) => `#/runs?${new URLSearchParams(status ? { queue, status } : { queue })}`;
  const linkTo = (q, status, count, what) => count ? h('a', { href: runsOf(q.queue, status), 'aria-label': `${count} ${what} runs on ${q.queue}` }, count) : 0;
  const age = seconds => seconds < 120 ? `${seconds.toFixed(1)} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
  const table = h('table', { 'aria-label': 'Queues' },
    h('thead', {}, h('tr', {}, ['Queue', 'Ready', 'Oldest ready', 'Scheduled', 'Running', 'Waiting', 'Completed (1 h)', 'Failed (1 h)', 'Cancelled (1 h)', 'Workers (slots)']
      .map(c => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, data.queues.map(q => h('tr', {},
      h('td', {}, h('a', { href: runsOf(q.queue) }, q.queue)),
      h('td', {}, linkTo(q, 'pending', q.ready, 'ready')),
      h('td', {}, q.ready ? age(q.oldestReadySeconds) : ''),
      h('td', {}, q.scheduled),
      h('td', {}, linkTo(q, 'running', q.running, 'running')),
      h('td', {}, linkTo(q, 'waiting', q.waiting, 'waiting')),
      h('td', {}, q.completed), h('td', {}, linkTo(q, 'failed', q.failed, 'failed')), h('td', {}, q.cancelled),
      h('td', {}, q.workers ? `${q.workers} (${q.workerSlots})` : h('span', { class: q.ready ? 'error' : 'muted' }, 'none'))))));

  // Runs finished per minute over the last hour, stacked by queue.
  const { buckets, startOf } = timeBuckets(data.throughput, data.at, 1, 60);
  const chart = stackedBars({
    label: 'Runs finished per minute and queue over the last hour', id: 'queue-throughput',
    slots: buckets.map(points => points.map(p => ({ name: p.queue, count: p.completed + p.failed + p.cancelled, colour: colourOf.get(p.queue) ?? '#888' }))),
    slotLabel: i => time(new Date(startOf(i)).toISOString()).slice(11, 16),
  });
  const legend = h('p', { class: 'legend' }, data.queues.filter(q => data.throughput.some(m => m.queue === q.queue))
    .map(q => {
      const swatch = h('span', { class: 'swatch' });
      swatch.style.background = colourOf.get(q.queue); // through the CSSOM, which the page's CSP allows (a style attribute it would not)
      return h('span', {}, swatch, q.queue);
    }));

  fill(page, h('h1', {}, 'Queues'),
    h('p', { class: 'muted' }, `Live runs now; finished runs of those created in the last hour. Made ${time(data.at)} UTC.`),
    data.queues.length ? table : h('p', {}, 'No queues: no live runs, no runs in the last hour and no live workers.'),
    h('h2', {}, 'Runs finished per minute, last hour'),
    data.throughput.length ? [chart, legend] : h('p', {}, 'No run finished in the last hour.'));
  refreshTimer = setInterval(() => { if (location.hash.startsWith('#/queues')) queuesPage().catch(() => {}); }, 5000);
}

// ----- Workers ---------------------------------------------------------------------------------------------------

async function workersPage() {
  const workers = await api('/api/workers');
  fill(page, h('h1', {}, 'Workers'),
    h('table', { 'aria-label': 'Workers' }, h('thead', {}, h('tr', {}, ['Worker', 'Host', 'Queues', 'Runs in flight / slots', 'Last heartbeat (UTC)'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, workers.map(w => h('tr', {}, h('td', {}, w.workerId), h('td', {}, `${w.host} (pid ${w.processId})`), h('td', {}, w.queues.join(', ')),
        h('td', {}, `${w.runsInFlight} / ${w.slots}`), h('td', {}, time(w.heartbeatAt)))))),
    workers.length ? null : h('p', {}, 'No live worker.'));
  refreshTimer = setInterval(() => { if (location.hash.startsWith('#/workers')) workersPage().catch(() => {}); }, 5000);
}

// ----- Routing ---------------------------------------------------------------------------------------------------

async function route() {
  stopRefresh();
  try {
    if (!await ensureLoggedIn()) return;
    const [path, query] = (location.hash.slice(1) || '/runs').split('?');
    const params = new URLSearchParams(query ?? '');
    if (path.startsWith('/runs/')) await runPage(decodeURIComponent(path.slice('/runs/'.length)));
    else if (path === '/queues') await queuesPage();
    else if (path === '/workers') await workersPage();
    else if (path === '/overview') await overviewPage(params);
    else await runsPage(params);
  } catch (error) {
    if (error instanceof Unauthorized) showLogin('That token is not valid.');
    else fill(page, h('p', { class: 'error', role: 'alert' }, error.message));
  }
}

document.getElementById('logout').addEventListener('click', () => { sessionStorage.removeItem(tokenKey); showLogin(); });
window.addEventListener('hashchange', route);
route();
