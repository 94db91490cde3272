// editor.js — the knowledge editors' page.
//
// Queue: GET /api/gaps lists the grouped unanswered questions (most impact first); each item
// shows its representative question, top variants, counts, agents and first/last seen. Actions
// move it through open -> in_progress -> answered (by a document id) | dismissed with
// PUT /api/gaps/{id}; an "answered by X?" suggestion (after a re-index the KB now answers it)
// is confirmed in one click. An editor files an item under a category (PUT {category}); without
// one an item shows only what agents' rejections of confident answers suggest, never the guess
// of an unresolved search. An id loaded before the regroup pass merged its item leads to the
// item it joined (the answer says merged_from): the page says so and reloads the queue.
// Clicking a question shows every variant and the latest questions behind it (GET /api/gaps/{id}).
// Errors are shown in Chinese (api.js turns the service's English messages into Chinese).
// Content health: GET /api/content-health: documents never returned, past their validity, and
// those agents said did not answer.
// Learned phrasings: GET /api/documents/{id}/learned lists what a document learned from agents,
// the help desk, leads and editors (who, how often, when, whether it counts); an editor pins
// one (POST {phrasing, pinned}) so it counts, adds one of their own the same way, or removes
// one for good (DELETE ?phrasing=).
// Everything from the store is shown as text (el() makes text nodes).
import { MESSAGES, api, clear, el, guard } from './api.js';
import { fmtTime, pct } from './format.js';

const $ = (id) => document.getElementById(id);
const STATUS = { open: '未处理', in_progress: '处理中', answered: '已解决', dismissed: '已忽略' };
const SOURCES = { search: '搜索无果', not_found: '没找到答案', help_request: '求助' };
const LIMIT = 50;
let offset = 0;

// The service's answers to editors' changes (docs/API.md, PUT /api/gaps/{id}), in Chinese.
MESSAGES.push(
  [/^no item with id (\d+)/, (m) => `问题项 ${m[1]} 已不存在（它的问题已移出队列），请刷新列表。`],
  [/^item (\d+) is (\w+): re-open it first/, (m) => `问题项 ${m[1]} 现为“${STATUS[m[2]] || m[2]}”，请先重新打开再改。`],
  [/^doc_id is required/, () => '请填写解答文档编号：这一项没有系统建议的答案。'],
  [/^no document with id (.+) in the index/, (m) => `知识库中没有编号为“${m[1]}”的文档，请检查编号。`],
  [/^doc_id is not a document id/, () => '文档编号格式不对：只能含字母、数字和 . _ : -。'],
  [/^category too long: at most (\d+)/, (m) => `分类太长：最多 ${m[1]} 字节。`],
  [/^category must/, () => '分类格式不对：请写成“业务办理/漫游”这样，用 / 分隔各级，每级都不能为空，不含制表符和换行。'],
  [/^note too long: at most (\d+)/, (m) => `备注太长：最多 ${m[1]} 字节。`],
  [/^give a status/, () => '没有要修改的内容。'],
);

// ---------------------------------------------------------------- the queue

function queueParams() {
  const p = new URLSearchParams();
  const status = $('f-status').value;
  if (status) p.append('status', status);
  p.set('sort', $('f-sort').value);
  if ($('f-from').value) p.set('from', $('f-from').value);
  if ($('f-to').value) p.set('to', $('f-to').value);
  if ($('f-category').value.trim()) p.set('category', $('f-category').value.trim());
  p.set('limit', LIMIT);
  p.set('offset', offset);
  return p;
}

async function loadQueue(more) {
  offset = more ? offset + LIMIT : 0;
  const body = $('queue-body');
  $('queue-status').textContent = '加载中…';
  let r;
  try {
    r = await api('/api/gaps?' + queueParams());
  } catch (e) {
    $('queue-status').textContent = '无法加载队列：' + e.message;
    $('queue-status').className = 'status error';
    return;
  }
  if (!more) clear(body);
  for (const item of r.items) body.append(...itemRows(item));
  if (!r.total) body.append(el('tr', null, el('td', { colspan: 7, class: 'empty' }, '没有符合条件的问题。')));
  $('queue-status').className = 'status';
  $('queue-status').textContent = `共 ${r.total} 项，显示 ${Math.min(r.total, offset + r.items.length)} 项`;
  $('queue-more').hidden = offset + r.items.length >= r.total;
}

// The row of an item, plus its (initially hidden) detail row.
function itemRows(item) {
  const tr = el('tr', { id: 'gap-' + item.id, class: 'gap', dataset: { id: item.id } });
  const detail = el('tr', { class: 'gap-detail', hidden: true }, el('td', { colspan: 7 }));
  fillRow(tr, detail, item);
  return [tr, detail];
}

function fillRow(tr, detail, item) {
  const variants = (item.top_variants || []).filter((v) => v.question !== item.question);
  const open = item.status === 'open' || item.status === 'in_progress';
  clear(tr).append(
    el('td', null,
      el('button', { type: 'button', class: 'link question', title: '查看全部说法和提问记录', onclick: () => toggleDetail(detail, item.id) }, item.question),
      item.category
        ? el('span', { class: 'cat' + (item.category_by ? ' by-editor' : ''), title: item.category_by ? `由 ${item.category_by} 设定` : '据坐席否定的答复文档推断' }, item.category)
        : null,
      variants.length ? el('ul', { class: 'variants' }, ...variants.map((v) => el('li', null, `${v.question}（${v.count}）`))) : null,
      open && item.suggested_answer
        ? el('div', { class: 'suggest' },
          `可能已由《${item.suggested_title || item.suggested_answer}》（${item.suggested_answer}）解答？置信度 ${pct(item.suggested_confidence)} `,
          el('button', { type: 'button', class: 'small primary confirm', onclick: () => update(tr, detail, item, { status: 'answered', doc_id: item.suggested_answer }) }, '确认已解决'))
        : null),
    el('td', { class: 'num' }, item.count),
    el('td', { class: 'num' }, item.agents),
    el('td', { class: 'num' }, item.variants),
    el('td', { class: 'muted' }, fmtTime(item.first_seen), el('br'), fmtTime(item.last_seen)),
    el('td', null,
      el('span', { class: 'badge ' + item.status }, STATUS[item.status] || item.status),
      item.answer_doc_id ? el('div', { class: 'muted' }, '文档 ' + item.answer_doc_id) : null,
      item.status_by ? el('div', { class: 'muted' }, item.status_by) : null),
    el('td', null, actions(tr, detail, item)));
}

function actions(tr, detail, item) {
  const box = el('div', { class: 'row-actions' });
  const act = (label, change, cls) =>
    el('button', { type: 'button', class: 'small ' + (cls || ''), onclick: () => update(tr, detail, item, change) }, label);
  if (item.status === 'open') box.append(act('认领', { status: 'in_progress' }, 'take'));
  if (item.status === 'open' || item.status === 'in_progress') {
    box.append(
      el('button', { type: 'button', class: 'small answer', onclick: () => answerForm(box, tr, detail, item) }, '已解决…'),
      act('忽略', { status: 'dismissed' }, 'dismiss'));
  }
  if (item.status === 'in_progress') box.append(act('退回', { status: 'open' }, 'reopen'));
  if (item.status === 'answered' || item.status === 'dismissed') box.append(act('重新打开', { status: 'open' }, 'reopen'));
  box.append(el('button', { type: 'button', class: 'small set-category', onclick: () => categoryForm(box, tr, detail, item) }, '分类…'));
  return box;
}

// "File under ...": an inline form asking for a category path; empty (or 清除) removes the
// editor's category.
function categoryForm(box, tr, detail, item) {
  const input = el('input', { type: 'text', class: 'category-input', size: 16, placeholder: '如 业务办理/漫游', 'aria-label': '分类', value: item.category_by ? item.category : '' });
  const form = el('form', { class: 'row-actions category-form' }, input,
    el('button', { type: 'submit', class: 'small primary' }, '确认'),
    item.category_by ? el('button', { type: 'button', class: 'small clear-category', onclick: () => update(tr, detail, item, { category: null }) }, '清除') : null,
    el('button', { type: 'button', class: 'small link', onclick: () => fillRow(tr, detail, item) }, '取消'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    update(tr, detail, item, { category: input.value.trim() || null });
  });
  box.replaceWith(form);
  input.focus();
}

// "Answered by document ...": an inline form (no dialogs) asking for the document id.
function answerForm(box, tr, detail, item) {
  const input = el('input', { type: 'text', class: 'doc-id', size: 16, placeholder: '文档编号', 'aria-label': '解答文档编号', value: item.suggested_answer || '' });
  const form = el('form', { class: 'row-actions answer-form' }, input,
    el('button', { type: 'submit', class: 'small primary' }, '确认'),
    el('button', { type: 'button', class: 'small link', onclick: () => fillRow(tr, detail, item) }, '取消'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const doc = input.value.trim();
    if (doc) update(tr, detail, item, { status: 'answered', doc_id: doc });
  });
  box.replaceWith(form);
  input.focus();
}

async function update(tr, detail, item, change) {
  let updated;
  try {
    updated = await api('/api/gaps/' + item.id, { method: 'PUT', body: change });
  } catch (e) {
    // The item is gone or changed meanwhile: show the queue as it is now, then why.
    if (e.status === 404 || e.status === 409) await loadQueue(false);
    note('操作失败：' + e.message, 'error');
    return;
  }
  const what = 'category' in change ? `分类：${updated.category || '无'}` : STATUS[updated.status] || updated.status;
  if (updated.merged_from !== undefined && updated.id !== item.id) {
    // The regroup pass merged this item into another since the page was loaded; the change went
    // to that one. Its row may be elsewhere in the list: reload.
    await loadQueue(false);
    note(`问题项 ${item.id} 已并入「${updated.question}」（${updated.id}），已对合并后的问题项更新：${what}`, 'ok');
    return;
  }
  fillRow(tr, detail, updated);
  note(`已更新：「${updated.question}」→ ${what}`, 'ok');
  if (!detail.hidden) showDetail(detail, item.id);
}

function note(text, kind) {
  $('queue-status').textContent = text;
  $('queue-status').className = 'status ' + kind;
}

function toggleDetail(detail, id) {
  detail.hidden = !detail.hidden;
  if (!detail.hidden) showDetail(detail, id);
}

async function showDetail(detail, id) {
  const cell = clear(detail.firstChild);
  cell.append(el('p', { class: 'muted' }, '加载中…'));
  let d;
  try {
    d = await api('/api/gaps/' + id);
  } catch (e) {
    clear(cell).append(el('p', { class: 'error' }, '无法加载：' + e.message));
    return;
  }
  clear(cell).append(
    el('div', { class: 'cards' },
      el('div', { class: 'card' },
        el('h2', null, `全部说法（${d.variants_total ?? (d.variants || []).length}）`),
        el('ul', null, ...(d.variants || []).map((v) => el('li', null, `${v.question}（${v.count} 次，最近 ${fmtTime(v.last_seen)}）`)))),
      el('div', { class: 'card' },
        el('h2', null, `最近的提问（共 ${d.questions_total ?? (d.questions || []).length} 次）`),
        el('table', { class: 'data' },
          el('thead', null, el('tr', null, el('th', null, '时间'), el('th', null, '坐席'), el('th', null, '来源'), el('th', null, '问题'), el('th', null, '当时首条结果'))),
          el('tbody', null, ...(d.questions || []).slice(0, 50).map((q) =>
            el('tr', null, el('td', null, fmtTime(q.time)), el('td', null, q.agent || ''), el('td', null, SOURCES[q.source] || q.source),
              el('td', null, q.question), el('td', null, q.top_id || '—'))))))));
}

// ---------------------------------------------------------------- content health

async function loadHealth() {
  const cards = clear($('health-cards'));
  $('health-status').textContent = '加载中…';
  let h;
  try {
    h = await api('/api/content-health?' + new URLSearchParams({ days: $('h-days').value, limit: 100 }));
  } catch (e) {
    $('health-status').textContent = '无法加载：' + e.message;
    return;
  }
  $('health-status').textContent = `知识库共 ${h.documents} 篇文档（索引版本 ${h.index_revision}）`;
  cards.append(
    healthCard('health-not-answering', `坐席反映没有解答（${h.not_answering_total}）`, '最近 ' + h.days + ' 天里坐席标记“没找到答案”或求助被改判的文档',
      ['文档', '没找到', '改判', '坐席'], h.not_answering, (d) => [docCell(d), d.not_found, d.help_overrides, d.agents]),
    healthCard('health-expired', `已过有效期（${h.expired_total}）`, '坐席搜索时不再显示，请更新或下线',
      ['文档', '有效期至'], h.expired, (d) => [docCell(d), d.valid_until]),
    healthCard('health-never', `长期未被检索到（${h.never_returned_total}）`, `最近 ${h.days} 天没有出现在任何搜索结果中`,
      ['文档', '分类', '更新'], h.never_returned, (d) => [docCell(d), (d.categories || []).join('、'), d.updated || '']));
}

const docCell = (d) => el('span', null, d.title, el('br'), el('small', { class: 'muted' }, d.id));

function healthCard(id, title, hint, heads, rows, cells) {
  return el('div', { class: 'card', id },
    el('h2', null, title),
    el('p', { class: 'muted' }, hint),
    rows && rows.length
      ? el('table', { class: 'data' },
        el('thead', null, el('tr', null, ...heads.map((h, i) => el('th', { class: i ? 'num' : null }, h)))),
        el('tbody', null, ...rows.map((d) => el('tr', null, ...cells(d).map((c, i) => el('td', { class: i ? 'num' : null }, c))))))
      : el('p', { class: 'empty' }, '没有。'));
}

// ---------------------------------------------------------------- learned phrasings

const LEARN_SOURCES = { helpful: '有帮助', click: '点击', help_desk: '求助解答', review: '班长复核', editor: '编辑' };
MESSAGES.push(
  [/^no document with id (.+)/, (m) => `知识库中没有编号为“${m[1]}”的文档。`],
  [/^this phrasing was removed/, () => '这个说法已被删除，不能再固定（删除是永久的）。'],
  [/^the phrasing has no letters/, () => '说法里没有文字或数字。'],
);

async function loadLearned() {
  const id = $('l-doc').value.trim();
  const body = clear($('learned-body'));
  if (!id) return;
  $('learned-status').className = 'status';
  $('learned-status').textContent = '加载中…';
  let r;
  try {
    r = await api(`/api/documents/${encodeURIComponent(id)}/learned`);
  } catch (e) {
    $('learned-table').hidden = true;
    $('learned-add').hidden = true;
    $('learned-status').className = 'status error';
    $('learned-status').textContent = '无法加载：' + e.message;
    return;
  }
  const counted = r.phrasings.filter((p) => p.counted).length;
  $('learned-status').textContent = `文档 ${r.doc_id}${r.in_index ? '' : '（已不在知识库中，说法暂不生效）'}：` +
    `共 ${r.phrasings.length} 个说法，${counted} 个已生效（两位坐席或一位编辑/班长教过，或已固定）。`;
  for (const p of r.phrasings) body.append(learnedRow(r.doc_id, p));
  if (!r.phrasings.length) body.append(el('tr', null, el('td', { colspan: 7, class: 'empty' }, '还没有学到任何说法。')));
  $('learned-table').hidden = false;
  $('learned-add').hidden = !r.in_index;
}

function learnedRow(docId, p) {
  const state = p.removed ? '已删除' : p.pinned ? '已固定' : p.counted ? '生效' : '未生效（教的人不够）';
  const actions = el('td', null);
  const change = async (method, query, body) => {
    try {
      await api(`/api/documents/${encodeURIComponent(docId)}/learned${query}`, { method, body });
      loadLearned();
    } catch (e) {
      $('learned-status').className = 'status error';
      $('learned-status').textContent = e.message;
    }
  };
  if (!p.removed) {
    actions.append(el('button', { type: 'button', class: 'pin', onclick: () => change('POST', '', { phrasing: p.text || p.phrasing, pinned: !p.pinned }) },
      p.pinned ? '取消固定' : '固定'));
    // Removal is final: the first click asks, the second removes (no browser dialog).
    actions.append(' ', el('button', { type: 'button', class: 'remove', onclick: (ev) => {
      const b = ev.currentTarget;
      if (!b.classList.contains('armed')) {
        b.classList.add('armed');
        b.textContent = '确认删除（不再学）';
        return;
      }
      change('DELETE', '?' + new URLSearchParams({ phrasing: p.text || p.phrasing }));
    } }, '删除'));
  }
  return el('tr', { class: 'learned' + (p.removed ? ' removed' : ''), dataset: { phrasing: p.phrasing } },
    el('td', null, p.text), el('td', { class: 'num' }, String(p.teachers)), el('td', { class: 'num' }, String(p.taught)),
    el('td', null, p.sources.map((s) => LEARN_SOURCES[s] || s).join('、')),
    el('td', null, fmtTime(p.first_time), el('br'), fmtTime(p.last_time)),
    el('td', null, state), actions);
}

// ---------------------------------------------------------------- tabs and start-up

function showTab(name) {
  for (const t of ['queue', 'health', 'learned']) {
    $('tab-' + t).setAttribute('aria-selected', String(t === name));
    $(t).hidden = t !== name;
  }
  if (name === 'health') loadHealth();
}

async function start() {
  if (!(await guard('editor'))) return;
  $('tab-queue').addEventListener('click', () => showTab('queue'));
  $('tab-health').addEventListener('click', () => showTab('health'));
  $('tab-learned').addEventListener('click', () => showTab('learned'));
  $('learned-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadLearned();
  });
  $('learned-add').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = $('l-doc').value.trim(), phrasing = $('l-new').value.trim();
    try {
      await api(`/api/documents/${encodeURIComponent(id)}/learned`, { method: 'POST', body: { phrasing, pinned: true } });
      $('l-new').value = '';
      loadLearned();
    } catch (e) {
      $('learned-status').className = 'status error';
      $('learned-status').textContent = e.message;
    }
  });
  $('queue-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadQueue(false);
  });
  for (const id of ['f-status', 'f-sort']) $(id).addEventListener('change', () => loadQueue(false));
  $('queue-more').addEventListener('click', () => loadQueue(true));
  $('health-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadHealth();
  });
  $('h-days').addEventListener('change', loadHealth);
  loadQueue(false);
}

start();
