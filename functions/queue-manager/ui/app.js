// StreamForge status page (issue 15). One ES module, no framework: the DOM, fetch, and TradingView
// lightweight-charts (window.LightweightCharts, served from the package by ui-routes.ts).
//
// Data: the manager's API (docs/api.md) with the same bearer-token rules as any client; workflow
// changes arrive pushed on GET /stream/workflows (Server-Sent Events read with fetch, so the
// token travels in the Authorization header). A lost stream is said on screen and reconnected
// with backoff; after a reconnect the list is read again, so nothing folded meanwhile is missed.

const TOKEN_KEY = 'streamforge-token';
const LIST_LIMIT = 100;
const STATUSES_DONE = new Set(['completed', 'error', 'cancelled']);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  /** queue_id → workflow summary (no timeline), newest first when listed. */
  workflows: new Map(),
  /** queue_id → { at, records, rate } for live streams' records per second. */
  rates: new Map(),
  /** What the current view re-renders on a workflow change. */
  onChange: undefined,
  stream: undefined,
  heartbeatMs: 15000,
};

// ---- DOM helpers (text only: nothing from the API is parsed as HTML) ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat())
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : String(c));
  return el;
}

const view = () => document.getElementById('view');
const iso = (ms) => (ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace('.000Z', 'Z'));
const ago = (text) => {
  if (!text) return '';
  const d = Math.max(0, (Date.now() - Date.parse(text)) / 1000);
  return d < 60
    ? `${d.toFixed(0)} s ago`
    : d < 3600
      ? `${(d / 60).toFixed(0)} min ago`
      : `${(d / 3600).toFixed(1)} h ago`;
};
const num = (n) => (n === undefined || n === null ? '' : Number(n).toLocaleString('en-US'));
const pct = (v) => (v === undefined || v === null ? '' : `${(100 * v).toFixed(1)}%`);
const duration = (ms) => {
  const m = ms / 60000;
  return m < 120
    ? `${m.toFixed(0)} min`
    : m < 2880
      ? `${(m / 60).toFixed(1)} h`
      : `${(m / 1440).toFixed(1)} d`;
};

function banner(text) {
  const b = document.getElementById('banner');
  b.hidden = !text;
  b.textContent = text ?? '';
}

function setConn(stateName, text) {
  const c = document.getElementById('conn');
  c.dataset.state = stateName;
  c.textContent = text;
}

// ---- API ----

class HttpError extends Error {
  constructor(status, body) {
    super(`${status}: ${body?.error ?? 'request failed'}`);
    this.status = status;
    this.body = body;
  }
}

function headers() {
  return state.token ? { authorization: `Bearer ${state.token}` } : {};
}

async function api(path) {
  const res = await fetch(path, { headers: headers() });
  const body = await res.json().catch(() => undefined);
  if (res.status === 401) askToken();
  if (!res.ok) throw new HttpError(res.status, body);
  return body;
}

function askToken() {
  setConn('unauthorized', 'token needed');
  document.getElementById('token-button').hidden = false;
  const dialog = document.getElementById('token-dialog');
  if (!dialog.open) dialog.showModal();
}

function setupToken() {
  const dialog = document.getElementById('token-dialog');
  document.getElementById('token-button').addEventListener('click', () => dialog.showModal());
  dialog.addEventListener('close', () => {
    if (dialog.returnValue !== 'ok') return;
    state.token = document.getElementById('token-input').value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    restartStream();
    route();
  });
}

// ---- The event stream ----

async function readStream(signal) {
  const res = await fetch('/stream/workflows', {
    headers: { ...headers(), accept: 'text/event-stream' },
    signal,
  });
  if (res.status === 401) {
    askToken();
    throw new HttpError(401);
  }
  if (!res.ok || !res.body) throw new HttpError(res.status);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let watchdog;
  const alive = () => {
    clearTimeout(watchdog);
    // Two missed heartbeats: the connection is dead even if no error says so.
    watchdog = setTimeout(() => state.stream?.abort(), 2 * state.heartbeatMs + 2000);
  };
  alive();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      alive();
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length > 0) await onStreamEvent(event, JSON.parse(data.join('\n')));
      }
    }
  } finally {
    clearTimeout(watchdog);
  }
}

async function onStreamEvent(event, data) {
  if (event === 'ready') {
    state.heartbeatMs = data.heartbeat_ms ?? state.heartbeatMs;
    setConn('live', 'live');
    banner('');
    // Changes from now on are pushed; read the list once for what happened before.
    await loadWorkflows();
  } else if (event === 'workflow') {
    upsertWorkflow(data);
    state.onChange?.(data);
  }
}

function restartStream() {
  state.stream?.abort();
}

async function streamLoop() {
  let delay = 1000;
  for (;;) {
    const controller = new AbortController();
    state.stream = controller;
    try {
      await readStream(controller.signal);
      delay = 1000;
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) {
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
    }
    const wait = delay;
    delay = Math.min(10000, delay * 2);
    setConn('reconnecting', 'reconnecting…');
    banner(
      `Event stream lost — reconnecting in ${(wait / 1000).toFixed(0)} s. Updates resume when it is back.`,
    );
    await new Promise((r) => setTimeout(r, wait));
  }
}

function upsertWorkflow(wf) {
  const prev = state.workflows.get(wf.queue_id);
  const now = Date.now();
  const r = state.rates.get(wf.queue_id);
  if (r && prev && wf.records_written >= r.records && now > r.at) {
    const rate = ((wf.records_written - r.records) * 1000) / (now - r.at);
    // Smoothed over updates: live progress arrives every few seconds.
    state.rates.set(wf.queue_id, {
      at: now,
      records: wf.records_written,
      rate: r.rate === undefined ? rate : 0.5 * r.rate + 0.5 * rate,
    });
  } else state.rates.set(wf.queue_id, { at: now, records: wf.records_written, rate: undefined });
  state.workflows.set(wf.queue_id, { ...prev, ...wf });
}

async function loadWorkflows() {
  const list = await api(`/workflows?limit=${LIST_LIMIT}`);
  for (const wf of list.items)
    if (!state.workflows.has(wf.queue_id) || STATUSES_DONE.has(wf.status)) upsertWorkflow(wf);
  state.onChange?.();
}

// ---- Views ----

const badge = (status) => h('span', { class: `badge ${status}`, dataset: { status } }, status);

function progressCell(wf) {
  const p = wf.progress?.percent;
  if (p === undefined) return h('td', { class: 'num' }, wf.progress?.live ? 'live' : '');
  return h(
    'td',
    { class: 'num' },
    h('span', { class: 'bar' }, h('span', { style: `width:${p.toFixed(1)}%` })),
    ` ${p.toFixed(0)}%`,
  );
}

function workflowRow(wf) {
  const message = wf.error ? `${wf.error.code}: ${wf.error.message}` : (wf.last?.message ?? wf.waiting ?? '');
  return h(
    'tr',
    { dataset: { queueId: wf.queue_id } },
    h('td', {}, h('a', { href: `#/workflow/${encodeURIComponent(wf.queue_id)}` }, wf.queue_id)),
    h('td', {}, wf.type),
    h('td', {}, wf.symbol),
    h('td', {}, badge(wf.status)),
    progressCell(wf),
    h('td', { class: 'num records' }, num(wf.records_written)),
    h('td', { title: wf.updated_at }, ago(wf.updated_at)),
    h('td', { class: 'msg' }, message),
  );
}

function table(head, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        head.map(([label, cls]) => h('th', { class: cls }, label)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

function workflowsSection() {
  const items = [...state.workflows.values()]
    .sort((a, b) => b.created_at.localeCompare(a.created_at))
    .slice(0, LIST_LIMIT);
  return h(
    'section',
    { id: 'workflows' },
    h('h2', {}, 'Workflows'),
    table(
      [
        ['Workflow'],
        ['Type'],
        ['Symbol'],
        ['Status'],
        ['Progress', 'num'],
        ['Records', 'num'],
        ['Updated'],
        ['Message'],
      ],
      items.map(workflowRow),
      'No workflows yet: POST /workflows or `streamforge submit`.',
    ),
  );
}

function liveSection() {
  const live = [...state.workflows.values()].filter(
    (w) => w.type.startsWith('ws_') && !STATUSES_DONE.has(w.status),
  );
  return h(
    'section',
    { id: 'live' },
    h('h2', {}, 'Live streams'),
    table(
      [
        ['Workflow'],
        ['Stream'],
        ['Symbol'],
        ['Records', 'num'],
        ['Rate', 'num'],
        ['Lag', 'num'],
        ['Behind'],
        ['Reconnects', 'num'],
        ['Gap fills', 'num'],
      ],
      live.map((w) => {
        const l = w.progress?.live ?? {};
        const rate = state.rates.get(w.queue_id)?.rate;
        return h(
          'tr',
          { dataset: { queueId: w.queue_id } },
          h('td', {}, h('a', { href: `#/workflow/${encodeURIComponent(w.queue_id)}` }, w.queue_id)),
          h('td', {}, w.type),
          h('td', {}, w.symbol),
          h('td', { class: 'num records' }, num(w.records_written)),
          h('td', { class: 'num' }, rate === undefined ? '' : `${rate.toFixed(1)}/s`),
          h('td', { class: 'num' }, l.lag_ms === undefined ? '' : `${num(Math.round(l.lag_ms))} ms`),
          h('td', {}, l.behind ? 'behind' : 'ok'),
          h('td', { class: 'num' }, num(l.reconnects)),
          h('td', { class: 'num' }, num(l.gap_fills)),
        );
      }),
      'No live stream running.',
    ),
  );
}

const seriesHref = (x) => `#/series/${x.market}/${x.symbol}/${x.dataset}`;

async function overview() {
  const root = view();
  const seriesBox = h(
    'section',
    { id: 'series' },
    h('h2', {}, 'Stored series'),
    h('p', { class: 'empty' }, 'loading…'),
  );
  const analyticsBox = h('section', { id: 'analytics' });
  const top = h('div');
  const draw = () => top.replaceChildren(workflowsSection(), liveSection());
  draw();
  root.replaceChildren(h('h1', {}, 'Overview'), top, seriesBox, analyticsBox);
  state.onChange = draw;

  const [series, graphs, models] = await Promise.allSettled([
    api('/series'),
    api('/graphs?limit=20'),
    api('/models?limit=20'),
  ]);
  if (series.status === 'fulfilled')
    seriesBox.replaceChildren(
      h('h2', {}, 'Stored series'),
      table(
        [['Series'], ['Records', 'num'], ['First'], ['Last']],
        series.value.items.map((x) =>
          h(
            'tr',
            {},
            h('td', {}, h('a', { href: seriesHref(x) }, `${x.market} ${x.symbol} ${x.dataset}`)),
            h('td', { class: 'num' }, num(x.count)),
            h('td', {}, iso(x.first)),
            h('td', {}, iso(x.last)),
          ),
        ),
        'Nothing stored yet.',
      ),
    );
  else
    seriesBox.replaceChildren(
      h('h2', {}, 'Stored series'),
      h('p', { class: 'error-box' }, String(series.reason.message)),
    );
  const parts = [];
  if (graphs.status === 'fulfilled' && graphs.value.items.length > 0)
    parts.push(
      h('h2', {}, 'Graphs'),
      table(
        [['Graph'], ['Symbols', 'num'], ['Interval'], ['Snapshots', 'num'], ['Edges', 'num'], ['Created']],
        graphs.value.items.map((g) =>
          h(
            'tr',
            {},
            h('td', {}, h('a', { href: `#/graph/${encodeURIComponent(g.graph_id)}` }, g.graph_id)),
            h('td', { class: 'num' }, g.symbols.length),
            h('td', {}, g.interval),
            h('td', { class: 'num' }, num(g.snapshots)),
            h('td', { class: 'num' }, num(g.edges)),
            h('td', {}, g.created_at),
          ),
        ),
        '',
      ),
    );
  if (models.status === 'fulfilled' && models.value.items.length > 0)
    parts.push(
      h('h2', {}, 'Models'),
      table(
        [
          ['Model'],
          ['Architecture'],
          ['Graph'],
          ['Test accuracy', 'num'],
          ['Best baseline', 'num'],
          ['Backend'],
        ],
        models.value.items.map((m) => {
          const best = Object.entries(m.baselines).sort((a, b) => b[1].accuracy - a[1].accuracy)[0];
          return h(
            'tr',
            {},
            h('td', {}, h('a', { href: `#/model/${encodeURIComponent(m.model_id)}` }, m.model_id)),
            h('td', {}, m.architecture),
            h('td', {}, m.graph_id),
            h('td', { class: 'num' }, pct(m.metrics.accuracy)),
            h('td', { class: 'num' }, best ? `${best[0]} ${pct(best[1].accuracy)}` : ''),
            h('td', {}, m.backend),
          );
        }),
        '',
      ),
    );
  analyticsBox.replaceChildren(...parts);
}

async function workflowView(id) {
  const root = view();
  const draw = async () => {
    const wf = await api(`/workflows/${encodeURIComponent(id)}`);
    const fields = [
      ['Type', wf.type],
      ['Symbol', `${wf.market} ${wf.symbol}`],
      ['Status', badge(wf.status)],
      ['Range', `${iso(wf.start)} → ${iso(wf.end)}`],
      ['Records', num(wf.records_written)],
      ['Progress', wf.progress?.percent === undefined ? '' : `${wf.progress.percent.toFixed(1)}%`],
      ['Created', wf.created_at],
      ['Updated', wf.updated_at],
      ['Finished', wf.finished_at ?? ''],
      ['Attempt', wf.attempt],
    ];
    if (wf.progress?.live) fields.push(['Live', JSON.stringify(wf.progress.live)]);
    if (wf.progress?.training) fields.push(['Training', JSON.stringify(wf.progress.training)]);
    root.replaceChildren(
      h('h1', {}, wf.queue_id),
      wf.error
        ? h('div', { class: 'error-box', id: 'workflow-error' }, `${wf.error.code}: ${wf.error.message}`)
        : '',
      h(
        'dl',
        { class: 'fields' },
        fields.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
      h('h2', {}, 'Timeline'),
      table(
        [['At'], ['Producer'], ['Status'], ['Records', 'num'], ['Message']],
        [...wf.timeline]
          .reverse()
          .map((t) =>
            h(
              'tr',
              {},
              h('td', {}, t.at),
              h('td', {}, t.producer),
              h('td', {}, badge(t.status)),
              h('td', { class: 'num' }, num(t.records_written)),
              h('td', { class: 'msg' }, t.message),
            ),
          ),
        'No events yet.',
      ),
      wf.notes?.length
        ? h(
            'section',
            {},
            h('h2', {}, 'Notes'),
            h(
              'ul',
              {},
              wf.notes.map((n) => h('li', {}, n)),
            ),
          )
        : '',
    );
  };
  let pending = false;
  state.onChange = (wf) => {
    if (wf?.queue_id !== id || pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      void draw().catch(showError);
    }, 250);
  };
  await draw();
}

function coverageSvg(detail) {
  const ranges = [...detail.covered, ...detail.gaps];
  const lo = Math.min(detail.first ?? Infinity, ...ranges.map((r) => r.from));
  const hi = Math.max(detail.last ?? -Infinity, ...ranges.map((r) => r.to));
  const width = 1000;
  if (!(hi > lo)) return h('p', { class: 'empty' }, 'No coverage recorded.');
  const x = (t) => ((t - lo) / (hi - lo)) * width;
  const svg = s('svg', {
    class: 'coverage',
    viewBox: `0 0 ${width} 46`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': 'coverage timeline',
  });
  const rect = (r, cls) => {
    const el = s('rect', {
      class: cls,
      x: x(r.from),
      y: 6,
      width: Math.max(1, x(r.to) - x(r.from)),
      height: 24,
      'data-from': r.from,
      'data-to': r.to,
    });
    el.append(s('title', {}, `${cls}: ${iso(r.from)} → ${iso(r.to)} (${duration(r.to - r.from)})`));
    svg.append(el);
  };
  const covered = [...detail.covered].sort((a, b) => a.from - b.from);
  covered.forEach((r) => rect(r, 'covered'));
  // Missing: holes between stored ranges that are not exchange gaps.
  const missing = [];
  for (let i = 1; i < covered.length; i++)
    if (covered[i].from > covered[i - 1].to) missing.push({ from: covered[i - 1].to, to: covered[i].from });
  const holes = missing.flatMap((m) => subtract(m, detail.gaps));
  holes.forEach((r) => rect(r, 'missing'));
  detail.gaps.forEach((r) => rect(r, 'gap'));
  svg.append(
    s('text', { x: 2, y: 42 }, iso(lo)),
    s('text', { x: width - 2, y: 42, 'text-anchor': 'end' }, iso(hi)),
  );
  return { svg, holes };
}

function subtract(r, cuts) {
  let parts = [r];
  for (const c of cuts)
    parts = parts.flatMap((p) =>
      c.to <= p.from || c.from >= p.to
        ? [p]
        : [
            ...(c.from > p.from ? [{ from: p.from, to: c.from }] : []),
            ...(c.to < p.to ? [{ from: c.to, to: p.to }] : []),
          ],
    );
  return parts;
}

async function seriesView(market, symbol, dataset) {
  const root = view();
  state.onChange = undefined;
  const base = `/series/${market}/${symbol}/${dataset}`;
  const detail = await api(base);
  const cov = coverageSvg(detail);
  const holesTable = table(
    [['Kind'], ['From'], ['To'], ['Length', 'num']],
    [
      ...(cov.holes ?? []).map((r) =>
        h(
          'tr',
          { class: 'missing-row' },
          h('td', {}, 'missing'),
          h('td', {}, iso(r.from)),
          h('td', {}, iso(r.to)),
          h('td', { class: 'num' }, duration(r.to - r.from)),
        ),
      ),
      ...detail.gaps.map((r) =>
        h(
          'tr',
          {},
          h('td', {}, 'exchange gap'),
          h('td', {}, iso(r.from)),
          h('td', {}, iso(r.to)),
          h('td', { class: 'num' }, duration(r.to - r.from)),
        ),
      ),
    ],
    'No holes: every requested range is stored.',
  );
  const chartBox = h('div', { id: 'chart' });
  const chartInfo = h('span', { id: 'chart-info' });
  const isKlines = dataset.startsWith('klines_') && dataset !== 'klines_1M';
  root.replaceChildren(
    h('h1', {}, `${market} ${symbol} ${dataset}`),
    h('div', { class: 'stats' }, `${num(detail.count)} records · ${iso(detail.first)} → ${iso(detail.last)}`),
    h(
      'section',
      {},
      h('h2', {}, 'Coverage'),
      cov.svg ?? cov,
      h(
        'div',
        { class: 'legend' },
        h('span', {}, h('i', { style: 'background:var(--ok)' }), 'stored'),
        h('span', {}, h('i', { style: 'background:var(--bad)' }), 'missing'),
        h('span', {}, h('i', { style: 'background:var(--warn)' }), 'exchange gap'),
      ),
      holesTable,
    ),
    isKlines
      ? h(
          'section',
          {},
          h('h2', {}, 'Candles'),
          h(
            'div',
            { class: 'chart-bar' },
            chartInfo,
            h(
              'button',
              { type: 'button', onclick: () => void drawChart(chart, base, undefined, chartInfo) },
              'Whole range',
            ),
          ),
          chartBox,
        )
      : '',
  );
  if (!isKlines) return;
  const chart = makeChart(chartBox);
  await drawChart(chart, base, undefined, chartInfo);
  window.__sfChartReady = performance.now();
}

function makeChart(box) {
  const LC = window.LightweightCharts;
  const chart = LC.createChart(box, {
    autoSize: true,
    layout: { background: { color: '#161c23' }, textColor: '#d8dee6' },
    grid: { vertLines: { color: '#1f2831' }, horzLines: { color: '#1f2831' } },
    timeScale: { timeVisible: true, secondsVisible: false },
  });
  const candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: '#26a69a',
    downColor: '#ef5350',
    wickUpColor: '#26a69a',
    wickDownColor: '#ef5350',
    borderVisible: false,
  });
  const volume = chart.addSeries(LC.HistogramSeries, {
    priceFormat: { type: 'volume' },
    priceScaleId: 'volume',
    color: '#3d5a80',
  });
  chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  // Candles above, volume in the bottom fifth.
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } });
  const c = { chart, candles, volume, bucket: 0, loading: false, timer: undefined };
  // Zoom: when the visible range shows few candles of a coarse bucket, read that range finer.
  chart.timeScale().subscribeVisibleTimeRangeChange((r) => {
    if (!r || c.loading) return;
    clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      const from = r.from * 1000;
      const to = r.to * 1000;
      if ((to - from) / c.bucket < 300 && c.bucket > c.native)
        void drawChart(c, c.base, { from, to }, c.info);
    }, 300);
  });
  return c;
}

async function drawChart(c, base, range, info) {
  c.loading = true;
  c.base = base;
  c.info = info;
  try {
    const span = range ? range.to - range.from : 0;
    // A zoomed view is read with some margin either side, so a little panning needs no request.
    const q = range
      ? `?from=${Math.max(0, Math.floor(range.from - span))}&to=${Math.ceil(range.to + span)}&max=3000`
      : '?max=4000';
    const data = await api(`${base}/candles${q}`);
    c.bucket = data.bucket_ms;
    c.native = data.interval_ms;
    c.candles.setData(
      data.candles.map((k) => ({ time: k.t / 1000, open: k.o, high: k.h, low: k.l, close: k.c })),
    );
    c.volume.setData(
      data.candles.map((k) => ({ time: k.t / 1000, value: k.v, color: k.c >= k.o ? '#1f5f58' : '#7a2e2e' })),
    );
    if (range) c.chart.timeScale().setVisibleRange({ from: range.from / 1000, to: range.to / 1000 });
    else c.chart.timeScale().fitContent();
    info.textContent = `${num(data.candles.length)} candles of ${duration(data.bucket_ms)} (series interval ${duration(data.interval_ms)}) · scroll to zoom, drag to pan`;
    info.dataset.candles = String(data.candles.length);
    info.dataset.bucket = String(data.bucket_ms);
  } finally {
    // Let the range change caused by setData settle before reacting to the user's zoom again.
    setTimeout(() => (c.loading = false), 400);
  }
}

async function graphView(id) {
  state.onChange = undefined;
  const g = await api(`/graphs/${encodeURIComponent(id)}?limit=1`);
  const step = Number(g.params.step ?? 86400000);
  const last = await api(`/graphs/${encodeURIComponent(id)}?from=${Math.max(0, g.end - 3 * step)}&limit=10`);
  const snap = last.snapshot_page.items.at(-1);
  const edges = snap
    ? [...snap.edges].sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)).slice(0, 100)
    : [];
  view().replaceChildren(
    h('h1', {}, id),
    h(
      'div',
      { class: 'stats' },
      `${g.symbols.length} symbols · ${g.interval} · ${num(g.snapshots)} snapshots · ${num(g.edges)} edges · ${iso(g.start)} → ${iso(g.end)}`,
    ),
    h('h2', {}, snap ? `Strongest edges of the latest snapshot (${iso(snap.t)})` : 'No snapshot'),
    table(
      [['Source'], ['Target'], ['Method'], ['Lag', 'num'], ['Weight', 'num'], ['p-value', 'num']],
      edges.map((e) =>
        h(
          'tr',
          {},
          h('td', {}, e.source),
          h('td', {}, e.target),
          h('td', {}, e.method),
          h('td', { class: 'num' }, e.lag),
          h('td', { class: 'num' }, e.weight.toFixed(3)),
          h('td', { class: 'num' }, e.p_value.toExponential(1)),
        ),
      ),
      'No edges in this snapshot.',
    ),
  );
}

async function modelView(id) {
  state.onChange = undefined;
  const m = await api(`/models/${encodeURIComponent(id)}`);
  const row = (name, x) =>
    h(
      'tr',
      {},
      h('td', {}, name),
      h('td', { class: 'num' }, pct(x.accuracy)),
      h('td', { class: 'num' }, `${pct(x.accuracy_ci[0])} – ${pct(x.accuracy_ci[1])}`),
      h('td', { class: 'num' }, x.log_loss.toFixed(4)),
      h('td', { class: 'num' }, x.ic.toFixed(3)),
      h('td', { class: 'num' }, num(x.n)),
    );
  view().replaceChildren(
    h('h1', {}, id),
    h(
      'div',
      { class: 'stats' },
      `${m.architecture} on graph ${m.graph_id} · ${m.symbols.length} symbols · backend ${m.backend} · ${m.epochs_run} epochs (best ${m.best_epoch}) · seed ${m.seed}`,
    ),
    h('h2', {}, 'Test metrics'),
    table(
      [
        ['Model'],
        ['Accuracy', 'num'],
        ['95% CI', 'num'],
        ['Log loss', 'num'],
        ['IC', 'num'],
        ['Predictions', 'num'],
      ],
      [
        row(`${m.architecture} (this model)`, m.metrics),
        ...Object.entries(m.baselines).map(([k, v]) => row(k, v)),
      ],
      '',
    ),
    h('h2', {}, 'Against each baseline'),
    table(
      [['Baseline'], ['Accuracy difference', 'num'], ['95% CI', 'num'], ['Log-loss difference', 'num']],
      m.comparisons.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, c.baseline),
          h('td', { class: 'num' }, pct(c.accuracy_diff)),
          h('td', { class: 'num' }, `${pct(c.accuracy_diff_ci[0])} – ${pct(c.accuracy_diff_ci[1])}`),
          h('td', { class: 'num' }, c.log_loss_diff.toFixed(4)),
        ),
      ),
      '',
    ),
  );
}

function showError(err) {
  view().prepend(
    h(
      'div',
      { class: 'error-box' },
      err instanceof HttpError && err.status === 404 ? 'Not found.' : String(err.message ?? err),
    ),
  );
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === 'series' && parts.length === 4) await seriesView(parts[1], parts[2], parts[3]);
    else if (parts[0] === 'workflow' && parts[1]) await workflowView(parts[1]);
    else if (parts[0] === 'graph' && parts[1]) await graphView(parts[1]);
    else if (parts[0] === 'model' && parts[1]) await modelView(parts[1]);
    else await overview();
  } catch (err) {
    showError(err);
  }
}

setupToken();
window.addEventListener('hashchange', () => void route());
void route();
void streamLoop();
