// agent.js — the agents' page: search as the agent types, open the document at the matching
// section, give feedback and ask for help, all from the keyboard.
//
// Searching: input is debounced (150 ms) and each new search aborts the one in flight, so a
// slow answer to an old prefix never replaces a newer one. While an input method is composing
// (pinyin not yet turned into characters) nothing is searched. Keys: "/" focuses the box,
// Up/Down move between hits, Enter opens the selected hit at its section, Esc returns.
import { api, appendSnippet, clear, decodeEntities, el, guard, today } from './api.js';

const DEBOUNCE_MS = 150;
const $ = (id) => document.getElementById(id);
const input = $('q');
const statusLine = $('status');
const results = $('results');
const list = $('hits');
const docView = $('doc');
const actions = $('actions');
const helpForm = $('help-form');
const helpQuestion = $('help-question');
const notice = $('notice');

let who = null;
const state = { q: '', searchId: null, hits: [], sel: 0, openId: null };
let timer = 0;
let controller = null;
let inflight = null;

// ---------------------------------------------------------------- searching

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(() => run(), DEBOUNCE_MS);
}

// Search for what the box holds now (unless that is what is shown already).
function run() {
  clearTimeout(timer);
  timer = 0;
  const q = input.value.replace(/\0/g, ' ').trim();
  if (q === state.q && (state.searchId || !q)) return inflight || Promise.resolve();
  if (controller) controller.abort();
  if (!q) {
    controller = null;
    show('', null);
    return Promise.resolve();
  }
  const c = (controller = new AbortController());
  const params = new URLSearchParams({ q, limit: '10' });
  inflight = api('/api/search?' + params, { signal: c.signal })
    .then((r) => {
      if (c === controller) show(q, r);
    })
    .catch((e) => {
      if (e.name !== 'AbortError' && c === controller) setStatus('搜索失败：' + e.message, 'error');
    });
  return inflight;
}

function setStatus(text, kind) {
  statusLine.textContent = text;
  statusLine.className = 'status' + (kind ? ' ' + kind : '');
}

function show(q, r) {
  closeDoc(false);
  hideHelp();
  clear(notice);
  state.q = q;
  state.searchId = r ? r.search_id : null;
  // Expired documents are never shown, even if a future API change returned them.
  state.hits = r ? r.hits.filter((h) => !h.expired) : [];
  const unresolved = !!(r && r.unresolved);
  state.sel = 0;
  clear(list);
  state.hits.forEach((h, i) => list.append(hitItem(h, i)));
  input.setAttribute('aria-expanded', String(state.hits.length > 0));
  actions.hidden = !r;
  $('helpful').disabled = !state.hits.length;
  $('not-found').disabled = false;
  $('helpful').textContent = '这个答案有用';
  $('not-found').textContent = '没找到答案';
  actions.classList.toggle('unresolved', unresolved);
  if (!r) setStatus('');
  else if (!state.hits.length) setStatus('没有找到相关内容。可以点「没找到答案」或「求助」。', 'warn');
  else if (unresolved) setStatus('知识库里可能没有这个问题的答案，下面是最接近的内容。', 'warn');
  else setStatus(goodSummary() + ` · ${r.took_ms} ms`);
  select(0);
}

// How many of the hits shown answer the question (the API's good_match: they hold most of what
// it asks). Not the API's `total`: nearly every document shares a character with any question.
function goodSummary() {
  const good = state.hits.filter((h) => h.good_match).length;
  return good ? `${good} 条匹配度高，已标出` : '下面是最接近的内容';
}

function hitItem(h, i) {
  const li = el('li', { id: 'hit-' + i, role: 'option', class: h.good_match ? 'hit good' : 'hit', 'aria-selected': 'false', dataset: { i } },
    el('div', { class: 'hit-head' },
      el('span', { class: 'title' }, h.title),
      mustKnow(h),
      h.good_match ? el('span', { class: 'good-tag' }, '匹配度高') : null,
      ...(h.categories || []).slice(0, 2).map((c) => el('span', { class: 'cat' }, c)),
      h.updated ? el('span', { class: 'date' }, '更新 ' + h.updated) : null),
    appendSnippet(el('p', { class: 'snippet' }), h.snippet),
    h.section_title ? el('p', { class: 'where' }, '§ ' + h.section_title) : null);
  li.addEventListener('click', () => {
    select(i);
    openHit(i);
  });
  return li;
}

// The 应知应会 badge of a must-know hit or document (docs/API.md), its teams in the tooltip and
// the document view. An agent sees its team's (/api/me) and every-team ones, the rule of
// kb_must_know_applies; leads and admins review for every team: all badges.
function mustKnow(x, full) {
  const m = x.must_know_teams || [];
  if (!x.must_know || (who.role == 'agent' && m[0] && !m.includes(who.team))) return null;
  const t = m[0] ? '适用班组：' + m.join('、') : '全体坐席必知';
  return el('span', { class: 'must-know', title: t }, '应知应会', full ? el('small', null, t) : null);
}

function select(i) {
  if (!state.hits.length) {
    input.removeAttribute('aria-activedescendant');
    return;
  }
  state.sel = Math.max(0, Math.min(state.hits.length - 1, i));
  for (const li of list.children) li.setAttribute('aria-selected', String(li.dataset.i == state.sel));
  input.setAttribute('aria-activedescendant', 'hit-' + state.sel);
  list.children[state.sel].scrollIntoView({ block: 'nearest' });
}

// ---------------------------------------------------------------- the document view

function openHit(i) {
  const h = state.hits[i];
  if (!h) return;
  if (state.searchId) feedback('click', h.id, true);
  openDoc(h.id, h.section_id, h.snippet);
}

// The words the search matched (the snippet's <mark>s), to highlight them in the document too.
let terms = null;
function setTerms(snippet) {
  const words = [...String(snippet || '').matchAll(/<mark>(.*?)<\/mark>/g)].map((m) => decodeEntities(m[1]).trim()).filter(Boolean);
  const unique = [...new Set(words)].sort((a, b) => b.length - a.length);
  terms = unique.length ? new RegExp('(' + unique.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|') + ')', 'g') : null;
}

// Text with the matched words in <mark>: the text is split, never parsed.
function marked(text) {
  if (!terms) return [text];
  return String(text).split(terms).map((part, i) => (i % 2 ? el('mark', null, part) : part));
}

// study.js opens its titles here too. The ApiError when the document cannot be opened.
export async function openDoc(id, sectionId, snippet) {
  setTerms(snippet);
  let d;
  try {
    d = await api('/api/documents/' + encodeURIComponent(id));
  } catch (e) {
    setStatus('无法打开文档：' + e.message, 'error');
    return e;
  }
  state.openId = id;
  clear(docView).append(
    el('div', { class: 'doc-bar' },
      el('button', { type: 'button', class: 'link', id: 'back', onclick: () => closeDoc(true) }, '← 返回结果'),
      el('span', { class: 'doc-bar-title' }, d.title),
      el('span', { class: 'keys' }, el('kbd', null, 'Esc'), ' 返回')),
    el('h1', null, d.title),
    el('p', { class: 'meta' },
      mustKnow(d, true),
      ...(d.categories || []).map((c) => el('span', { class: 'cat' }, c)),
      d.updated ? el('span', { class: 'date' }, '更新 ' + d.updated) : null,
      d.valid_until ? el('span', { class: 'date' }, '有效期至 ' + d.valid_until) : null));
  if (d.valid_until && d.valid_until < today()) {
    docView.append(el('p', { class: 'error' }, '该文档已过有效期，内容不再适用，请勿引用。'));
  } else {
    for (const s of d.sections || []) docView.append(section(s));
  }
  results.hidden = true;
  docView.hidden = false;
  helpForm.hidden = true;
  const target = sectionId ? document.getElementById('sec-' + sectionId) : null;
  if (target) {
    target.classList.add('target');
    target.scrollIntoView({ block: 'start' });
  } else {
    window.scrollTo(0, 0);
  }
  docView.focus({ preventScroll: true });
}

// One section: its title and blocks, all as text. Consecutive list items form a list and
// consecutive table rows ("cell | cell") a table; a header row (<th>) starts one.
function section(s) {
  const node = el('section', { id: s.id ? 'sec-' + s.id : null, class: 'doc-section' }, s.title ? el('h2', null, s.title) : null);
  let group = null;
  for (const b of s.blocks || []) {
    if (b.kind === 'item') {
      if (!group || group.tagName !== 'UL') node.append((group = el('ul')));
      group.append(el('li', null, marked(b.text)));
    } else if (b.kind === 'row' || b.kind === 'header') {
      if (!group || group.tagName !== 'TABLE' || b.kind === 'header') node.append((group = el('table')));
      group.append(el('tr', null, ...b.text.split(' | ').map((c) => el(b.kind === 'row' ? 'td' : 'th', null, marked(c)))));
    } else {
      group = null;
      node.append(el('p', null, marked(b.text)));
    }
  }
  return node;
}

function closeDoc(focus) {
  if (docView.hidden) return;
  docView.hidden = true;
  clear(docView);
  state.openId = null;
  results.hidden = false;
  if (focus) {
    input.focus();
    select(state.sel);
  }
}

// ---------------------------------------------------------------- feedback and help

async function feedback(kind, docId, quiet) {
  if (!state.searchId) return;
  const body = { search_id: state.searchId, kind };
  if (docId) body.doc_id = docId;
  const button = kind === 'helpful' ? $('helpful') : kind === 'not_found' ? $('not-found') : null;
  if (button) button.disabled = true;
  try {
    await api('/api/feedback', { method: 'POST', body });
    if (button) {
      button.textContent = '✓ ' + button.textContent;
      say(kind === 'helpful' ? '已记录：这个答案有用。' : '已记录：没找到答案，知识编辑会跟进。', 'ok');
    }
  } catch (e) {
    if (button) button.disabled = false;
    if (!quiet) say('记录失败：' + e.message, 'error');
  }
}

function say(...parts) {
  const kind = parts.pop();
  clear(notice).append(el('p', { class: kind }, ...parts));
}

function showHelp() {
  helpQuestion.value = input.value.trim() || state.q;
  helpForm.hidden = false;
  helpQuestion.focus();
  helpQuestion.select();
}

function hideHelp() {
  helpForm.hidden = true;
}

async function submitHelp(ev) {
  ev.preventDefault();
  const question = helpQuestion.value.replace(/\0/g, ' ').trim();
  if (!question) return;
  $('help-submit').disabled = true;
  try {
    const r = await api('/api/help-requests', { method: 'POST', body: { agent: who.name, question } });
    hideHelp();
    const box = el('div', { class: 'help-result', id: 'help-result' },
      el('p', null, `求助已提交（编号 ${r.id}）。`));
    if (r.kb_answerable && r.doc_id) {
      box.append(
        el('p', null, '知识库里已有答案：',
          el('button', { type: 'button', class: 'link doc-link', id: 'help-doc', onclick: () => openDoc(r.doc_id, null, r.snippet) }, r.title || r.doc_id)),
        appendSnippet(el('p', { class: 'snippet' }), r.snippet));
    } else {
      box.append(el('p', null, '知识库暂无答案，问题已转给知识编辑补充。'));
    }
    clear(notice).append(box);
  } catch (e) {
    say('求助提交失败：' + e.message, 'error');
  } finally {
    $('help-submit').disabled = false;
  }
}

// ---------------------------------------------------------------- keys and start-up

function onKey(ev) {
  const t = ev.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement;
  if (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    ev.preventDefault();
    closeDoc(false);
    input.focus();
    input.select();
    return;
  }
  if (ev.key === 'Escape') {
    if (!helpForm.hidden && t === helpQuestion) {
      ev.preventDefault();
      hideHelp();
      input.focus();
    } else if (!docView.hidden) {
      ev.preventDefault();
      closeDoc(true);
    }
    return;
  }
  if (t !== input || ev.isComposing) return;
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    select(state.sel + (ev.key === 'ArrowDown' ? 1 : -1));
  } else if (ev.key === 'Enter') {
    ev.preventDefault();
    // A search still waiting for its debounce runs now; a new result set selects its top hit.
    run().then(() => {
      if (input.value.trim() === state.q && state.hits.length) openHit(state.sel);
    });
  }
}

async function start() {
  who = await guard('agent');
  if (!who) return;
  input.addEventListener('input', (ev) => {
    if (!ev.isComposing) schedule();
  });
  input.addEventListener('compositionend', schedule);
  document.addEventListener('keydown', onKey);
  $('helpful').addEventListener('click', () => feedback('helpful', state.openId || state.hits[state.sel]?.id));
  $('not-found').addEventListener('click', () => feedback('not_found', null));
  $('ask-help').addEventListener('click', showHelp);
  $('help-cancel').addEventListener('click', () => {
    hideHelp();
    input.focus();
  });
  helpForm.addEventListener('submit', submitHelp);
  helpQuestion.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      helpForm.requestSubmit();
    }
  });
  input.focus();
  if (input.value.trim()) run();
}

start();
