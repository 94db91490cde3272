// coaching.js — the leads' page's coaching part (issue 19, docs/COACHING.md): for the agent
// drilled into, the study list (GET /api/agents/{id}/study), a form to record a coaching
// session (POST /api/coaching) and the sessions so far (GET /api/coaching?agent=); and for the
// page, the coaching-effect report (GET /api/reports/coaching) as a chart and a table: each
// session's 不应求助 share and must-know misses before and after, and per team the coached
// agents' change against the uncoached agents'. Everything from the store is inserted as text.
import { api, clear, el, today } from './api.js';
import { fmtTime, pct } from './format.js';

const $ = (id) => document.getElementById(id);
const signed = (x) => (x === null || x === undefined ? '–' : (x > 0 ? '+' : '') + Math.round(x * 100) + '%');
const ORANGE = '#d9822b';
const GREY = '#9aa7b5';
let effectChart = null;

// ---------------------------------------------------------------- one agent

// The study list, the coaching form and the sessions of agent, into container (a .cards box).
export async function renderAgentCoaching(container, agent) {
  const studyCard = el('div', { class: 'card', id: 'agent-study' }, el('h2', null, '学习清单'), el('p', { class: 'muted' }, '加载中…'));
  const formCard = el('div', { class: 'card', id: 'coaching-card' }, el('h2', null, '记录辅导'));
  container.append(studyCard, formCard);
  let list = { items: [] };
  try {
    list = await api('/api/agents/' + encodeURIComponent(agent) + '/study');
  } catch (e) {
    clear(studyCard).append(el('h2', null, '学习清单'), el('p', { class: 'error' }, '无法加载学习清单：' + e.message));
  }
  if (list.items) renderStudy(studyCard, list.items);
  renderForm(formCard, agent, list.items || []);
  await renderSessions(formCard, agent);
}

function renderStudy(card, items) {
  clear(card).append(el('h2', null, '学习清单（知识库有答案却来求助的文档，应知应会在前）'));
  if (!items.length) {
    card.append(el('p', { class: 'muted' }, '没有。'));
    return;
  }
  card.append(el('table', { class: 'data', id: 'agent-study-table' },
    el('thead', null, el('tr', null, el('th', null, '文档'), el('th', null, '应知应会'), el('th', { class: 'num' }, '求助次数'),
      el('th', null, '最近一次'), el('th', null, '已学习'))),
    el('tbody', null, ...items.map((it) => el('tr', { dataset: { doc: it.doc_id } },
      el('td', null, it.title ? `${it.title}（${it.doc_id}）` : it.doc_id),
      el('td', null, it.must_know ? el('span', { class: 'badge no' }, '应知应会') : ''),
      el('td', { class: 'num' }, it.count),
      el('td', { class: 'muted' }, fmtTime(it.last_asked)),
      el('td', null, it.studied ? el('span', { class: 'badge yes' }, fmtTime(it.studied_at)) : el('span', { class: 'muted' }, '未学习'),
        it.asked_since_studied ? el('div', { class: 'muted' }, `学习后又问 ${it.asked_since_studied} 次`) : null))))));
}

// Date, documents covered (the study list's, must-know ones ticked; more by id) and a note.
function renderForm(card, agent, items) {
  const date = el('input', { type: 'date', id: 'coach-date', required: true, value: today() });
  const boxes = items.map((it) => el('label', { class: 'coach-doc' },
    el('input', { type: 'checkbox', value: it.doc_id, checked: it.must_know && !it.studied }), ' ', it.title || it.doc_id));
  const more = el('input', { type: 'text', id: 'coach-more', size: 24, placeholder: '其他文档编号，空格分隔', 'aria-label': '其他文档编号' });
  // The service stores at most 4,000 bytes of UTF-8; maxlength counts UTF-16 units, each at most
  // 3 bytes (a Chinese character), so 1,333 always fit (2,000 let a Chinese note be refused).
  const note = el('textarea', { id: 'coach-note', rows: 2, maxlength: 1333, placeholder: '辅导要点（客户号码等会被自动隐去）', 'aria-label': '辅导记录' });
  const status = el('span', { id: 'coach-status', class: 'muted', 'aria-live': 'polite' });
  const form = el('form', { id: 'coaching-form', class: 'coaching-form' },
    el('label', null, '辅导日期 ', date),
    boxes.length ? el('fieldset', null, el('legend', null, '辅导覆盖的文档'), ...boxes) : null,
    el('label', null, '其他文档 ', more),
    el('label', null, '记录 ', note),
    el('div', null, el('button', { type: 'submit', class: 'primary', id: 'coach-submit' }, '保存辅导记录'), ' ', status));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const docIds = [...form.querySelectorAll('input[type=checkbox]:checked')].map((b) => b.value)
      .concat(more.value.split(/\s+/).filter(Boolean));
    status.textContent = '保存中…';
    try {
      const s = await api('/api/coaching', { method: 'POST', body: { agent, date: date.value, doc_ids: [...new Set(docIds)], note: note.value.trim() || null } });
      status.textContent = `已保存（第 ${s.id} 次辅导记录）`;
      note.value = '';
      more.value = '';
      await renderSessions(card, agent);
    } catch (e) {
      status.textContent = '保存失败：' + e.message;
    }
  });
  card.append(form);
}

async function renderSessions(card, agent) {
  const old = card.querySelector('#coaching-sessions');
  if (old) old.remove();
  const box = el('div', { id: 'coaching-sessions' }, el('h3', null, '辅导记录'));
  card.append(box);
  let page;
  try {
    page = await api('/api/coaching?' + new URLSearchParams({ agent, limit: 20 }));
  } catch (e) {
    box.append(el('p', { class: 'error' }, '无法加载辅导记录：' + e.message));
    return;
  }
  if (!page.items.length) {
    box.append(el('p', { class: 'muted' }, '还没有辅导记录。'));
    return;
  }
  box.append(el('ul', null, ...page.items.map((s) => el('li', { class: 'coaching-session' },
    el('b', null, s.date), ` ${s.lead}：`, s.documents.map((d) => d.title || d.doc_id).join('、') || '（未选文档）',
    s.note ? el('div', { class: 'muted' }, s.note) : null))));
}

// ---------------------------------------------------------------- whether it worked

// The report into #effect: weeks from #effect-weeks, team from #f-team.
export async function loadEffect() {
  const params = new URLSearchParams({ weeks: $('effect-weeks').value });
  if ($('f-team').value) params.set('team', $('f-team').value);
  let rep;
  try {
    rep = await api('/api/reports/coaching?' + params);
  } catch (e) {
    clear($('effect-body')).append(el('tr', null, el('td', { colspan: 9, class: 'error' }, '无法加载辅导效果：' + e.message)));
    return;
  }
  renderEffectChart(rep);
  const body = clear($('effect-body'));
  for (const r of rep.sessions.slice().reverse()) {
    body.append(el('tr', { dataset: { session: r.session_id } },
      el('td', null, r.date),
      el('td', null, r.agent_name ? `${r.agent_name}（${r.agent}）` : r.agent, r.team ? el('div', { class: 'muted' }, r.team) : null),
      el('td', { class: 'num' }, `${pct(r.before.share)}（${r.before.requests}）`),
      el('td', { class: 'num' }, `${pct(r.after.share)}（${r.after.requests}）`),
      el('td', { class: 'num' }, signed(r.share_change)),
      el('td', { class: 'num' }, `${r.before.must_know_misses} → ${r.after.must_know_misses}`),
      el('td', null, r.asked_again ? el('span', { class: 'badge no' }, `又问 ${r.asked_again} 次`) : el('span', { class: 'badge yes' }, '没有再问')),
      el('td', null, r.complete ? '' : el('span', { class: 'muted' }, '观察期未结束')),
      el('td', { class: 'muted' }, r.lead)));
  }
  if (!rep.sessions.length) body.append(el('tr', null, el('td', { colspan: 9, class: 'empty' }, '还没有辅导记录：在坐席明细里记录一次辅导后，这里对比辅导前后。')));
}

// Per team: the change of the 不应求助 share of coached agents against uncoached colleagues
// over the same weeks (a bar each; below zero is better).
function renderEffectChart(rep) {
  const Chart = window.Chart;
  const teams = rep.teams.filter((t) => t.coached_change !== null || t.uncoached_change !== null);
  $('effect-box').hidden = !teams.length;
  const note = clear($('effect-note'));
  note.hidden = !!teams.length;
  if (effectChart) effectChart.destroy();
  effectChart = null;
  if (!teams.length) {
    note.append(el('p', null, rep.sessions.length ? `辅导前后 ${rep.weeks} 周内还没有足够的求助记录可供对比。` : '还没有辅导记录。'));
    return;
  }
  if (!Chart) return;
  const p = (x) => (x === null ? null : Math.round(x * 1000) / 10);
  effectChart = new Chart($('chart-effect'), {
    type: 'bar',
    data: {
      labels: teams.map((t) => t.team || '未分组'),
      datasets: [
        { label: '辅导过的坐席：不应求助比例变化 (百分点)', data: teams.map((t) => p(t.coached_change)), backgroundColor: ORANGE },
        { label: '同期未辅导的坐席 (百分点)', data: teams.map((t) => p(t.uncoached_change)), backgroundColor: GREY },
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom' } },
      scales: { y: { title: { display: true, text: '辅导后 − 辅导前（百分点，负数为改善）' } } },
    },
  });
}
