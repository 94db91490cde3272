// study.js — "我的学习清单" on the agents' page (issue 19, docs/COACHING.md): the documents the
// agent asked the support desk about that the knowledge base already answered, must-know
// (应知应会) first, with when they asked, and a button to mark each one studied
// (GET /api/me/study, POST /api/me/study/{doc_id}). Folded away under the search by default:
// during a live call the search comes first. Everything is inserted as text (el()).
import { openDoc } from './agent.js';
import { api, clear, el, me } from './api.js';
import { fmtTime } from './format.js';

// The list is the caller's own: agents and admins have one, a lead using the page does not.
// This module is the page's second script, apart from agent.js (so the search's own code stays
// within its size); it opens a title in agent.js's document view, and follows the help
// requests the page files by watching the notice line, where agent.js shows each result.
async function start() {
  let who;
  try {
    who = await me();
  } catch {
    return; // agent.js shows the login page or the error
  }
  if (who.role !== 'agent' && who.role !== 'admin') return;
  const main = document.querySelector('main.agent');
  if (!main) return; // the page was replaced by "no access"
  document.head.append(el('link', { rel: 'stylesheet', href: '/static/css/study.css' }));
  const box = el('details', { id: 'study', class: 'study', hidden: true });
  main.append(box);
  // A title opens its document, in the page's one document view (Esc or 返回 goes back). A
  // document gone from the index since (404) is looked up by its title like any question: put
  // in the search box, so its successor, if any, is among the hits.
  const open = async (it) => {
    if ((await openDoc(it.doc_id))?.status !== 404) return;
    const q = document.getElementById('q');
    q.value = it.title || it.doc_id;
    q.dispatchEvent(new Event('input'));
    q.focus();
    window.scrollTo(0, 0);
  };
  await loadStudy(box, open);
  new MutationObserver(() => {
    if (document.getElementById('help-result')) loadStudy(box, open);
  }).observe(document.getElementById('notice'), { childList: true });
}

async function loadStudy(box, open) {
  let list;
  try {
    list = await api('/api/me/study');
  } catch (e) {
    clear(box).append(el('summary', null, '我的学习清单'), el('p', { class: 'error' }, '无法加载学习清单：' + e.message));
    box.hidden = false;
    return;
  }
  const items = list.items || [];
  const must = items.filter((i) => i.must_know && !i.studied).length;
  const wasOpen = box.open;
  clear(box).append(el('summary', { id: 'study-summary' }, '我的学习清单',
    el('span', { class: 'study-count' }, items.length ? `${items.length} 篇${must ? `，应知应会未学 ${must} 篇` : ''}` : '')));
  box.open = wasOpen;
  if (!items.length) {
    box.append(el('p', { class: 'muted' }, '还没有。求助过、知识库里其实有答案的文档会出现在这里。'));
  } else {
    box.append(el('ol', { class: 'study-list', id: 'study-list' }, ...items.map((it) => item(box, it, open))));
  }
  box.hidden = false;
}

function item(box, it, open) {
  const li = el('li', { class: 'study-item' + (it.studied ? ' studied' : ''), dataset: { doc: it.doc_id } },
    el('button', { type: 'button', class: 'link study-title', onclick: () => open(it) }, it.title || it.doc_id),
    it.must_know ? el('span', { class: 'badge must' }, '应知应会') : null,
    el('span', { class: 'muted' }, ` 求助 ${it.count} 次，最近 ${fmtTime(it.last_asked)}`),
    it.asked_since_studied ? el('span', { class: 'muted' }, `，学习后又问了 ${it.asked_since_studied} 次`) : null);
  if (it.studied) {
    li.append(el('span', { class: 'badge yes studied-at' }, '已学习 ' + fmtTime(it.studied_at)));
  } else {
    li.append(el('button', {
      type: 'button', class: 'small mark-studied',
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api('/api/me/study/' + encodeURIComponent(it.doc_id), { method: 'POST' });
          await loadStudy(box, open);
        } catch (e) {
          ev.target.disabled = false;
          li.append(el('span', { class: 'error' }, ' 标记失败：' + e.message));
        }
      },
    }, '标记已学习'));
  }
  return li;
}

start();
