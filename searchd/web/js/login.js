// login.js — the login page: keep the pasted token in sessionStorage, ask GET /api/me who it
// belongs to, and open the page for that role (or the page the user was sent here from, when
// the role may see it). A rejected token is dropped at once.
import { ApiError, PAGES, clearToken, el, me, pagesFor, setToken, token } from './api.js';

const form = document.getElementById('login-form');
const input = document.getElementById('token');
const error = document.getElementById('login-error');

function go(who) {
  const pages = pagesFor(who.role);
  const next = new URLSearchParams(location.search).get('next');
  // The page asked for when the role may see it, else the role's own page (a lead can also
  // search, but comes for the reviews).
  const wanted = pages.find((k) => PAGES[k].href === next) || (pages.includes(who.role) ? who.role : pages.length === 1 ? pages[0] : null);
  if (wanted) {
    location.replace(PAGES[wanted].href);
    return;
  }
  // An admin (several pages) or an unknown role: let the user choose.
  const nav = document.getElementById('choose');
  nav.replaceChildren(
    el('p', null, `已登录：${who.name}`),
    ...pages.map((k) => el('a', { href: PAGES[k].href, class: 'chip-link' }, PAGES[k].label)));
  nav.hidden = false;
  form.hidden = true;
}

async function check() {
  try {
    go(await me());
  } catch (e) {
    clearToken();
    error.textContent = e instanceof ApiError && e.status === 401 ? '令牌无效，请检查后重新粘贴。' : '无法登录：' + e.message;
    error.hidden = false;
    input.focus();
  }
}

// A token is 1..128 printable ASCII characters (docs/API.md, the tokens file). What comes along
// when one is copied from a chat or a document, blanks and invisible characters (zero-width
// space, byte-order mark, direction marks), is no part of it. Anything else cannot be a token:
// said so here, because the browser refuses to send it in a header at all, which would read as
// "cannot reach the service".
const INVISIBLE = /[\s\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;
const TOKEN = /^[\x21-\x7e]{1,128}$/;

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = input.value.replace(INVISIBLE, '');
  if (!t) return;
  error.hidden = true;
  input.value = '';
  if (!TOKEN.test(t)) {
    error.textContent = '令牌无效，请检查后重新粘贴：令牌只含英文字母、数字和符号，不含中文或空格。';
    error.hidden = false;
    input.focus();
    return;
  }
  setToken(t);
  check();
});

if (token()) check();
else input.focus();
