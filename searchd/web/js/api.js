// api.js — what every page shares: the login token, API calls, the role check, the page header
// and safe DOM building.
//
// Security rules the pages follow (see docs/WEB.md):
// - The token lives in sessionStorage only: never in a URL (logs, history, Referer) and never in
//   a cookie (other sites' requests could carry it). Every API call sends it as
//   "Authorization: Bearer"; closing the tab logs out.
// - Text from documents, queries and reports is always inserted as text nodes (el(), text()).
//   The one server-made HTML, a search snippet with <mark>, goes through appendSnippet(), which
//   keeps <mark> and turns everything else into text. No page uses innerHTML.

const TOKEN_KEY = 'kb.token';

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (t) => sessionStorage.setItem(TOKEN_KEY, t);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

// The pages and the roles that may open them (the API checks every call again).
export const PAGES = {
  agent: { href: '/agent', label: '坐席检索', roles: ['agent', 'lead', 'admin'] },
  editor: { href: '/editor', label: '知识编辑', roles: ['editor', 'admin'] },
  lead: { href: '/lead', label: '求助分析', roles: ['lead', 'admin'] },
};
const ROLE_NAMES = { agent: '坐席', editor: '知识编辑', lead: '班长/主管', admin: '管理员' };

export const pagesFor = (role) => Object.keys(PAGES).filter((k) => PAGES[k].roles.includes(role));

// A failed call. message is for people, in Chinese like the pages (the service's messages are
// English, for logs and scripts: kept in detail); status 0: the service was not reached.
export class ApiError extends Error {
  constructor(status, detail) {
    super(describe(status, String(detail || '')));
    this.status = status;
    this.detail = detail;
  }
}

// [RegExp, (match) => Chinese] for service messages that say what to fix; pages add theirs.
export const MESSAGES = [];
const STATUS_TEXT = {
  0: '无法连接服务，请检查网络', 401: '登录已失效，请重新登录', 403: '当前身份无权这样操作',
  404: '内容不存在，请刷新后重试', 409: '内容已被改动，请刷新后重试', 429: '请求太频繁，请稍后再试',
  503: '服务暂时不可用，请稍后重试',
};

function describe(status, detail) {
  for (const [re, say] of MESSAGES) {
    const m = detail.match(re);
    if (m) return say(m);
  }
  return (STATUS_TEXT[status] || (status >= 500 ? '服务出错，请稍后重试' : `请求有误（HTTP ${status}）`)) + '。';
}

// Call the API. body (an object) is sent as JSON. Throws ApiError with the server's message;
// on 401 the token is dropped and the login page shown.
export async function api(path, { method = 'GET', body, signal } = {}) {
  const t = token();
  if (!t) {
    toLogin();
    throw new ApiError(401, 'not logged in');
  }
  const headers = { Authorization: 'Bearer ' + t, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e; // the page cancelled it
    throw new ApiError(0, String(e.message || e));
  }
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.startsWith('application/json')) data = await res.json();
  else if (res.ok) data = await res.text();
  if (res.status === 401) {
    clearToken();
    toLogin();
  }
  if (!res.ok) throw new ApiError(res.status, data && data.error);
  return data;
}

// Back to the login page, remembering which page to come back to (a path, never a token).
function toLogin() {
  if (location.pathname === '/') return; // the login page shows the error itself
  location.replace('/?next=' + encodeURIComponent(location.pathname));
}

// ---------------------------------------------------------------- DOM

// el('p', {class: 'x', onclick: f}, 'text', child...): strings become text nodes, never HTML.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, ...children);
  return e;
}

export function append(parent, ...children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return parent;
}

export const clear = (node) => {
  node.replaceChildren();
  return node;
};

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

// Decode the character references of HTML-escaped text (the only markup a snippet's text holds).
export function decodeEntities(s) {
  return s.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});/g, (m, ref) => {
    if (ref[0] !== '#') return ENTITIES[ref] ?? m;
    const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

// Append a snippet ("already HTML-escaped, matched words in <mark>...</mark>", docs/API.md) as
// text nodes and <mark> elements. Nothing else in it can become markup: the string is split on
// the exact tags <mark> and </mark>, and every other piece is decoded and added as text, so a
// stray "<script>" shows as the characters it is.
export function appendSnippet(parent, html) {
  let inMark = false;
  for (const part of String(html || '').split(/(<mark>|<\/mark>)/)) {
    if (part === '<mark>') inMark = true;
    else if (part === '</mark>') inMark = false;
    else if (part) parent.append(inMark ? el('mark', null, decodeEntities(part)) : decodeEntities(part));
  }
  return parent;
}

// ---------------------------------------------------------------- page frame

let mePromise = null;
export const me = () =>
  (mePromise ??= api('/api/me').catch((e) => {
    mePromise = null;
    throw e;
  }));

// Check the login and role for a page. Returns /api/me's answer when the page may be shown, null
// after showing the login page or a "no access" message instead.
export async function guard(pageKey) {
  if (!token()) {
    toLogin();
    return null;
  }
  let who;
  try {
    who = await me();
  } catch (e) {
    if (e.status !== 401) showFatal('无法连接服务：' + e.message);
    return null;
  }
  header(who, pageKey);
  if (!PAGES[pageKey].roles.includes(who.role)) {
    const main = clear(document.querySelector('main'));
    main.append(
      el('section', { class: 'forbidden', id: 'forbidden', role: 'alert' },
        el('h1', null, '无权访问'),
        el('p', null, `当前登录身份「${ROLE_NAMES[who.role] || who.role}」不能使用「${PAGES[pageKey].label}」页面。`),
        pagesFor(who.role).length
          ? el('p', null, '可以使用：', ...pagesFor(who.role).map((k) => el('a', { href: PAGES[k].href, class: 'chip-link' }, PAGES[k].label)))
          : null,
        el('p', null, el('button', { type: 'button', onclick: logout }, '换一个令牌登录'))));
    document.title = '无权访问 · 知识库';
    return null;
  }
  return who;
}

function logout() {
  clearToken();
  location.replace('/');
}

// The top bar: product name, the pages this role may open, who is logged in, log out.
function header(who, current) {
  const bar = document.querySelector('header.top');
  if (!bar) return;
  clear(bar).append(
    el('a', { class: 'brand', href: '/' }, '知识库'),
    el('nav', null, ...pagesFor(who.role).map((k) =>
      el('a', { href: PAGES[k].href, class: k === current ? 'active' : null, 'aria-current': k === current ? 'page' : null }, PAGES[k].label))),
    el('span', { class: 'who', id: 'who' }, who.name, el('small', null, ROLE_NAMES[who.role] || who.role)),
    el('button', { type: 'button', class: 'link', id: 'logout', onclick: logout }, '退出'));
}

function showFatal(message) {
  const main = document.querySelector('main');
  clear(main).append(el('p', { class: 'error', role: 'alert' }, message));
}

// ---------------------------------------------------------------- formatting

// Today's local date, YYYY-MM-DD: the ISO form of the local clock time.
export const today = (d = new Date()) => new Date(d - d.getTimezoneOffset() * 6e4).toISOString().slice(0, 10);
