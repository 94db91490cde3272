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

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = input.value.trim();
  if (!t) return;
  error.hidden = true;
  input.value = '';
  setToken(t);
  check();
});

if (token()) check();
else input.focus();
