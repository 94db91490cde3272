// lead.js — the support leads' page: help-request reviews.
//
// For the chosen month (and team): totals (must-know misses among them), three charts (Chart.js, vendored: the trend of
// requests and of the share the knowledge base already answered, that share for the month, and
// the teams side by side), one row per agent (GET /api/reports/help-requests), and the requests
// themselves (GET /api/help-requests). Clicking an agent drills down to their requests and the
// documents they should study; a lead confirms or overrides a classification with
// PUT /api/help-requests/{id}/review. CSV downloads are built here from the same data.
// Everything from the store is shown as text (el() makes text nodes); CSV cells that a
// spreadsheet would take for a formula are prefixed with ' (csv.js, the same rule as kb-report).
import { api, clear, el, guard } from './api.js';
import { fmtTime, pct } from './format.js';
import { csvText } from './csv.js';
import { loadEffect, renderAgentCoaching } from './coaching.js';

const $ = (id) => document.getElementById(id);
const Chart = window.Chart;
const charts = {};
const PAGE = 100;
let report = null; // by agent
let teamReport = null;
let agentsList = [];
let agentsFile = null; // kb-searchd --agents FILE, or null
let drillAgent = null;
let requests = { items: [], total: 0, offset: 0 };

// Document titles for the "documents to study" lists (GET /api/documents/{id}), cached.
const titles = new Map();
async function loadTitles(ids) {
  const missing = [...new Set(ids)].filter((id) => !titles.has(id)).slice(0, 100);
  await Promise.all(missing.map((id) =>
    api('/api/documents/' + encodeURIComponent(id)).then((d) => titles.set(id, d.title), () => titles.set(id, null))));
}
const studyText = (s) => (titles.get(s.doc_id) ? `${titles.get(s.doc_id)}（${s.doc_id}）` : s.doc_id);

const thisMonth = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
};
const monthLabel = (m) => (m ? `${m.slice(0, 4)}年${Number(m.slice(5))}月` : '');
const signedPct = (x) => (x === null || x === undefined ? '–' : (x > 0 ? '+' : '') + Math.round(x * 100) + '%');

// ---------------------------------------------------------------- loading

async function load() {
  const month = $('f-month').value || thisMonth();
  const months = $('f-months').value;
  $('status').textContent = '加载中…';
  try {
    [report, teamReport] = await Promise.all([
      api('/api/reports/help-requests?' + new URLSearchParams({ by: 'agent', month, months })),
      api('/api/reports/help-requests?' + new URLSearchParams({ by: 'team', month, months })),
    ]);
  } catch (e) {
    $('status').textContent = '无法加载报表：' + e.message;
    return;
  }
  $('status').textContent = '';
  const rows = agentRows();
  await loadTitles(rows.flatMap((r) => (r.study || []).map((x) => x.doc_id)));
  renderKpis(rows);
  renderCharts(rows);
  renderAgents(rows);
  if (drillAgent && !rows.some((r) => r.agent === drillAgent)) drillAgent = null;
  await loadRequests(false);
  await loadEffect();
}

// Rows of the agent report, narrowed to the chosen team.
function agentRows() {
  const team = $('f-team').value;
  return (report.rows || []).filter((r) => !team || r.team === team);
}

// Month-by-month totals over the given rows (from each row's trend).
function monthTotals(rows) {
  const by = new Map(report.months.map((m) => [m, { month: m, requests: 0, kb_answered: 0 }]));
  for (const r of rows) {
    for (const t of r.trend || []) {
      const m = by.get(t.month);
      if (m) {
        m.requests += t.requests;
        m.kb_answered += t.kb_answered;
      }
    }
  }
  return [...by.values()].map((m) => ({ ...m, share: m.requests ? m.kb_answered / m.requests : null }));
}

function renderKpis(rows) {
  const totals = monthTotals(rows);
  const cur = totals[totals.length - 1] || { requests: 0, kb_answered: 0, share: null };
  const prev = totals[totals.length - 2];
  const kpi = (id, value, label) => el('div', { class: 'kpi', id }, el('b', null, value), el('span', null, label));
  clear($('kpis')).append(
    kpi('kpi-requests', cur.requests, `${monthLabel(report.month)} 求助数`),
    kpi('kpi-answered', cur.kb_answered, '知识库已有答案（不应求助）'),
    kpi('kpi-share', pct(cur.share), prev && prev.share !== null && cur.share !== null ? `不应求助比例，较上月 ${signedPct(cur.share - prev.share)}` : '不应求助比例'),
    kpi('kpi-persistent', rows.filter((r) => r.persistent).length, `连续 ${report.persist} 个月偏高的坐席`),
    kpi('kpi-must-know', rows.reduce((n, r) => n + (r.must_know_misses || 0), 0),
      `应知应会漏答，连续 ${report.persist} 个月漏答的坐席 ${rows.filter((r) => r.must_know_persistent).length} 人`));
}

// ---------------------------------------------------------------- charts

const BLUE = '#1f5fa8';
const ORANGE = '#d9822b';
const GREY = '#9aa7b5';

function chart(id, config) {
  if (charts[id]) charts[id].destroy();
  if (!Chart) return;
  config.options = {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: 'bottom' } },
    ...config.options,
  };
  charts[id] = new Chart($(id), config);
}

// Bars of request counts with a line of the share (right axis, percent).
function countsAndShare(labels, counts, shares) {
  return {
    data: {
      labels,
      datasets: [
        { type: 'bar', label: '求助数', data: counts, backgroundColor: BLUE, yAxisID: 'y', order: 2 },
        { type: 'line', label: '不应求助比例 (%)', data: shares.map((s) => (s === null ? null : Math.round(s * 1000) / 10)), borderColor: ORANGE, backgroundColor: ORANGE, yAxisID: 'y1', order: 1, spanGaps: true },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: '求助数' } },
        y1: { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: '%' } },
      },
    },
  };
}

// The chart of card `name` (#name-box, #chart-name), or, when there is nothing to draw, the
// card's note (#name-note) saying why: empty axes say nothing.
function chartOrNote(name, config, note) {
  const id = 'chart-' + name;
  $(name + '-box').hidden = !!note;
  clear($(name + '-note')).hidden = !note;
  if (!note) return chart(id, config);
  if (charts[id]) charts[id].destroy();
  delete charts[id];
  $(name + '-note').append(...note);
}

const NO_REQUESTS_HINT = '坐席在检索页点「求助」，或在线支撑登记求助（POST /api/help-requests）后，这里就有数据。';

function renderCharts(rows) {
  const totals = monthTotals(rows);
  chartOrNote('trend', countsAndShare(totals.map((t) => monthLabel(t.month)), totals.map((t) => t.requests), totals.map((t) => t.share)),
    totals.some((t) => t.requests) ? null : [el('p', null, `近 ${totals.length} 个月没有求助记录。`), el('p', null, NO_REQUESTS_HINT)]);
  const cur = totals[totals.length - 1] || { requests: 0, kb_answered: 0 };
  chartOrNote('share', {
    type: 'doughnut',
    data: {
      labels: ['知识库已有答案（不应求助）', '知识库没有答案（内容缺口）'],
      datasets: [{ data: [cur.kb_answered, cur.requests - cur.kb_answered], backgroundColor: [ORANGE, GREY] }],
    },
  }, cur.requests ? null : [el('p', null, `${monthLabel(report.month)}没有求助记录，无从计算知识库已有答案的比例。`)]);
  const teams = (teamReport.rows || []).filter((t) => t.team);
  chartOrNote('teams', countsAndShare(teams.map((t) => t.team), teams.map((t) => t.requests), teams.map((t) => t.share)),
    teams.length ? null : teamsMissing());
}

// Why there is no team to compare, and what to do: teams come from the agents list, which an
// admin gives kb-searchd (--agents FILE, or PUT /api/agents); empty axes said neither.
function teamsMissing() {
  const code = (t) => el('code', null, t);
  const howTo = el('p', null, '管理员可以在启动 kb-searchd 时用 ', code('--agents 文件'), ' 指定名单，每行一位坐席：',
    code('坐席ID<Tab>姓名<Tab>班组'), '（制表符分隔，可从表格另存为“Unicode 文本”）；或用 ', code('PUT /api/agents'),
    ' 上传名单。格式见 docs/GAPS.md 的 “The agents list”。');
  if (!agentsList.length) {
    return [el('p', null, el('b', null, agentsFile ? `坐席名单 ${agentsFile} 里还没有坐席，` : '还没有坐席名单，'),
      '所以无法按班组对比：报表只知道坐席ID，不知道谁在哪个班组。'), howTo];
  }
  if (!agentsList.some((a) => a.team)) {
    return [el('p', null, el('b', null, `坐席名单${agentsFile ? ' ' + agentsFile + ' ' : ''}里没有填写班组，`),
      '所以无法按班组对比。在名单每行的第三列填上班组即可（', code('坐席ID<Tab>姓名<Tab>班组'), '）。')];
  }
  return [el('p', null, `${monthLabel(report.month)}没有名单内坐席的求助，没有可对比的班组。`)];
}

// ---------------------------------------------------------------- agents and drill-down

function renderAgents(rows) {
  const body = clear($('agents-body'));
  for (const r of rows) {
    const tr = el('tr', { class: 'clickable' + (r.agent === drillAgent ? ' chosen' : ''), dataset: { agent: r.agent }, tabindex: 0 },
      el('td', null, r.agent),
      el('td', null, r.name || '—'),
      el('td', null, r.team || '—'),
      el('td', { class: 'num' }, r.requests),
      el('td', { class: 'num' }, r.kb_answered),
      el('td', { class: 'num' }, pct(r.share)),
      el('td', { class: 'num' }, signedPct(r.change)),
      el('td', null, r.persistent ? el('span', { class: 'badge no' }, '持续偏高') : ''),
      // Misses in red; not the 应知应会 badge's class, whose chip would fill the cell even for 0.
      el('td', { class: r.must_know_misses ? 'num misses error' : 'num misses' }, r.must_know_misses ? `${r.must_know_misses}（${pct(r.must_know_share)}）` : '0',
        r.must_know_persistent ? el('div', null, el('span', { class: 'badge no' }, '应知应会持续漏答')) : null),
      el('td', null, (r.study || []).map((s) => `${studyText(s)} ×${s.count}`).join('；')));
    const choose = () => drill(drillAgent === r.agent ? null : r.agent);
    tr.addEventListener('click', choose);
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') choose();
    });
    body.append(tr);
  }
  if (!rows.length) body.append(el('tr', null, el('td', { colspan: 10, class: 'empty' }, '这个月份没有求助记录。')));
}

async function drill(agent) {
  drillAgent = agent;
  for (const tr of $('agents-body').children) tr.classList.toggle('chosen', !!agent && tr.dataset.agent === agent);
  await loadRequests(false);
  if (agent) $('drill').scrollIntoView({ block: 'start' });
}

function requestParams(offset, limit) {
  const p = new URLSearchParams({ month: report.month, limit, offset });
  if (drillAgent) p.set('agent', drillAgent);
  else if ($('f-team').value) p.set('team', $('f-team').value);
  return p;
}

async function loadRequests(more) {
  const offset = more ? requests.offset + PAGE : 0;
  let r;
  try {
    r = await api('/api/help-requests?' + requestParams(offset, PAGE));
  } catch (e) {
    clear($('requests-body')).append(el('tr', null, el('td', { colspan: 8, class: 'error' }, '无法加载求助明细：' + e.message)));
    return;
  }
  requests = { items: more ? requests.items.concat(r.items) : r.items, total: r.total, offset };
  const row = drillAgent && (report.rows || []).find((x) => x.agent === drillAgent);
  $('drill-title').textContent = drillAgent
    ? `${row && row.name ? row.name + '（' + drillAgent + '）' : drillAgent} · ${monthLabel(report.month)}的求助（${r.total}）`
    : `${monthLabel(report.month)}求助明细（${r.total}）`;
  const extra = clear($('drill-extra'));
  if (row) {
    extra.append(el('div', { class: 'cards' },
      el('div', { class: 'card' }, el('h2', null, '每月不应求助比例'),
        el('div', { class: 'chart-box' }, el('canvas', { id: 'chart-agent' }))),
      el('div', { class: 'card', id: 'study' }, el('h2', null, '应学习的文档（知识库里有答案却来求助）'),
        (row.study || []).length
          ? el('ol', null, ...row.study.map((s) => el('li', null, `${studyText(s)}：问过 ${s.count} 次`)))
          : el('p', { class: 'muted' }, '没有。'))));
    chart('chart-agent', countsAndShare((row.trend || []).map((t) => monthLabel(t.month)), (row.trend || []).map((t) => t.requests), (row.trend || []).map((t) => t.share)));
    const coaching = el('div', { class: 'cards', id: 'agent-coaching' });
    extra.append(coaching);
    renderAgentCoaching(coaching, drillAgent).catch((e) => coaching.append(el('p', { class: 'error' }, e.message)));
  }
  const body = $('requests-body');
  if (!more) clear(body);
  for (const item of r.items) body.append(requestRow(item));
  if (!requests.items.length) body.append(el('tr', null, el('td', { colspan: 8, class: 'empty' }, '没有求助记录。')));
  $('requests-more').hidden = requests.items.length >= r.total;
}

const verdict = (answerable, doc) =>
  answerable ? el('span', null, el('span', { class: 'badge yes' }, '知识库可答'), doc ? el('div', { class: 'muted' }, doc) : null) : el('span', { class: 'badge no' }, '内容缺口');

function requestRow(item) {
  const tr = el('tr', { id: 'req-' + item.id, dataset: { id: item.id } });
  fillRequest(tr, item);
  return tr;
}

function fillRequest(tr, item) {
  const rv = item.review;
  clear(tr).append(
    el('td', { class: 'muted' }, fmtTime(item.time)),
    el('td', null, item.agent_name ? `${item.agent_name}（${item.agent}）` : item.agent, item.team ? el('div', { class: 'muted' }, item.team) : null),
    el('td', { class: 'question' }, item.question),
    el('td', null, item.answer || ''),
    el('td', null, verdict(item.kb_answerable, item.doc_id), el('div', { class: 'muted' }, '置信度 ' + pct(item.confidence))),
    el('td', null, verdict(item.answerable, item.effective_doc_id),
      item.must_know_miss ? el('div', null, el('span', { class: 'badge no must-know-miss' }, '应知应会漏答')) : null),
    el('td', null, rv ? [el('div', null, `${rv.by} ${fmtTime(rv.at)}`), rv.note ? el('div', { class: 'muted' }, rv.note) : null] : el('span', { class: 'muted' }, '未审核')),
    el('td', null, reviewActions(tr, item)));
}

// Confirm the current verdict, or override it. Overriding to "answerable" asks which document
// answers it (prefilled with the service's), inline: no dialogs.
function reviewActions(tr, item) {
  const box = el('div', { class: 'row-actions' });
  const send = async (body) => {
    try {
      const updated = await api(`/api/help-requests/${item.id}/review`, { method: 'PUT', body });
      fillRequest(tr, updated);
      $('status').textContent = `已审核求助 ${item.id}：${updated.answerable ? '知识库可答' : '内容缺口'}`;
    } catch (e) {
      $('status').textContent = '审核失败：' + e.message;
    }
  };
  box.append(el('button', { type: 'button', class: 'small confirm', onclick: () => send({ kb_answerable: item.answerable, ...(item.answerable && item.effective_doc_id ? { doc_id: item.effective_doc_id } : {}) }) }, '确认'));
  if (item.answerable) {
    box.append(el('button', { type: 'button', class: 'small override', onclick: () => send({ kb_answerable: false }) }, '改判为缺口'));
  } else {
    box.append(el('button', {
      type: 'button', class: 'small override',
      onclick: () => {
        const input = el('input', { type: 'text', size: 14, class: 'doc-id', placeholder: '答案文档编号', 'aria-label': '答案文档编号', value: item.doc_id || '' });
        const form = el('form', { class: 'row-actions' }, input, el('button', { type: 'submit', class: 'small primary' }, '改判为可答'),
          el('button', { type: 'button', class: 'small link', onclick: () => fillRequest(tr, item) }, '取消'));
        form.addEventListener('submit', (ev) => {
          ev.preventDefault();
          const doc = input.value.trim();
          send(doc ? { kb_answerable: true, doc_id: doc } : { kb_answerable: true });
        });
        box.replaceWith(form);
        input.focus();
      },
    }, '改判为可答'));
  }
  return box;
}

// ---------------------------------------------------------------- CSV

function download(name, header, rows) {
  const text = csvText(header, rows);
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function csvAgents() {
  if (!report) return;
  const share = (x) => (x === null || x === undefined ? '' : x.toFixed(4));
  download(`help-requests-agents-${report.month}.csv`,
    ['month', 'agent', 'name', 'team', 'requests', 'kb_answered', 'share', 'previous_share', 'persistent', 'must_know_misses', 'must_know_share', 'must_know_persistent', 'study'],
    agentRows().map((r) => [report.month, r.agent, r.name, r.team, r.requests, r.kb_answered, share(r.share), share(r.previous_share), r.persistent ? 1 : 0,
      r.must_know_misses, share(r.must_know_share), r.must_know_persistent ? 1 : 0,
      (r.study || []).map((s) => `${s.doc_id}:${s.count}`).join(' ')]));
}

async function csvRequests() {
  if (!report) return;
  const items = [];
  for (let offset = 0; offset < 20000; offset += 500) {
    const r = await api('/api/help-requests?' + requestParams(offset, 500));
    items.push(...r.items);
    if (items.length >= r.total || !r.items.length) break;
  }
  download(`help-requests-${drillAgent || $('f-team').value || 'all'}-${report.month}.csv`,
    ['id', 'time', 'agent', 'name', 'team', 'question', 'answer', 'kb_answerable', 'doc_id', 'confidence', 'answerable', 'effective_doc_id', 'reviewed_by', 'review_note'],
    items.map((i) => [i.id, i.time, i.agent, i.agent_name, i.team, i.question, i.answer, i.kb_answerable ? 1 : 0, i.doc_id, i.confidence,
      i.answerable ? 1 : 0, i.effective_doc_id, i.review && i.review.by, i.review && i.review.note]));
}

// ---------------------------------------------------------------- start-up

async function start() {
  if (!(await guard('lead'))) return;
  if (Chart) {
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.color = '#445';
  }
  $('f-month').value = thisMonth();
  try {
    const list = await api('/api/agents');
    agentsList = list.agents || [];
    agentsFile = list.file || null;
  } catch {
    agentsList = [];
  }
  const teams = [...new Set(agentsList.map((a) => a.team).filter(Boolean))].sort();
  $('f-team').append(...teams.map((t) => el('option', { value: t }, t)));
  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    drillAgent = null;
    load();
  });
  for (const id of ['f-month', 'f-months', 'f-team']) $(id).addEventListener('change', () => {
    drillAgent = null;
    load();
  });
  $('requests-more').addEventListener('click', () => loadRequests(true));
  $('effect-weeks').addEventListener('change', loadEffect);
  $('csv-agents').addEventListener('click', csvAgents);
  $('csv-requests').addEventListener('click', () => csvRequests().catch((e) => ($('status').textContent = '下载失败：' + e.message)));
  await load();
}

start();
