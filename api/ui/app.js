// app: the page's entry: reads the address, draws the page for it, follows
// links without reloading (history API), asks for the token when the API
// wants one, ticks the times shown, and runs the header's log search box.

import { h, tick } from './dom.js';
import * as api from './api.js';
import { runsPage } from './page_runs.js';
import { runPage } from './page_run.js';
import { repoPage } from './page_repo.js';
import { runnersPage } from './page_runners.js';
import { searchPage, searchOf, searchHref } from './page_search.js';

const main = document.getElementById('main');
const topSearch = document.getElementById('top-search');
const topQ = document.getElementById('top-q');
let current = null;

const routes = [
    [/^\/$/, 'runs', () => runsPage],
    [/^\/runs\/([^/]+)(?:\/jobs\/([^/]+))?$/, 'runs', () => runPage, ['run', 'job']],
    [/^\/repos\/([^/]+)$/, 'runs', () => repoPage, ['repo']],
    [/^\/runners$/, 'runners', () => runnersPage],
    [/^\/search$/, 'search', () => searchPage],
];

function notFound(ctx) {
    ctx.main.append(h('h1', null, 'Not found'), h('p', null, 'There is no page at this address.'));
    return {};
}

function route() {
    const path = location.pathname;
    let page = notFound;
    let section = '';
    const params = {};
    for (const [re, sec, fn, names] of routes) {
        const m = re.exec(path);
        if (!m)
            continue;
        page = fn();
        section = sec;
        (names || []).forEach((n, i) => { params[n] = m[i + 1] ? decodeURIComponent(m[i + 1]) : null; });
        break;
    }
    for (const a of document.querySelectorAll('.top-nav a'))
        if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
    const ctx = { main, params, query: new URLSearchParams(location.search), navigate };
    topQ.value = section === 'search' ? ctx.query.get('q') || '' : '';
    if (current && current.page === page && current.update && current.update(ctx))
        return;
    current?.dispose?.();
    main.replaceChildren();
    const inst = page(ctx) || {};
    inst.page = page;
    current = inst;
}

export function navigate(href, { replace = false } = {}) {
    const from = location.pathname;
    if (replace)
        history.replaceState(null, '', href);
    else
        history.pushState(null, '', href);
    route();
    // A link to a line (#L{n}) of another page starts at the top too: the
    // log view scrolls itself to the line.
    if (!replace && (!location.hash || location.pathname !== from))
        window.scrollTo(0, 0);
}

document.addEventListener('click', (ev) => {
    const a = ev.target.closest('a[data-nav]');
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey)
        return;
    ev.preventDefault();
    navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);

// The header's search box, on every page: a search of every log with the
// filters of the search page shown (if it is), else none.
topSearch.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = topQ.value;
    if (!q)
        return;
    const s = location.pathname === '/search' ? searchOf(new URLSearchParams(location.search)) : {};
    navigate(searchHref({ ...s, q }));
});
setInterval(() => tick(main), 1000);

// The token: one password field in a modal dialog, kept in sessionStorage.
const signout = document.getElementById('signout');
function showSignout() {
    signout.hidden = !sessionStorage.getItem('gitweave.token');
}
signout.addEventListener('click', () => {
    api.setToken(null);
    location.reload();
});

api.onTokenNeeded((wrong) => new Promise((resolve) => {
    const input = h('input', {
        type: 'password', id: 'token', name: 'token', required: true,
        autocomplete: 'off', spellcheck: false,
    });
    const form = h('form', { method: 'dialog', className: 'token-form' },
        h('h2', null, 'Sign in'),
        h('p', null, 'This API needs its token (GITWEAVE_API_TOKEN). The page keeps it for this tab only.'),
        wrong ? h('p', { className: 'field-error', attrs: { role: 'alert' } }, 'The API refused that token.') : null,
        h('label', { htmlFor: 'token' }, 'Token'),
        input,
        h('div', { className: 'dlg-buttons' }, h('button', { type: 'submit', className: 'btn btn-primary' }, 'Sign in')));
    const dlg = h('dialog', { className: 'dlg', attrs: { 'aria-label': 'Sign in' } }, form);
    dlg.addEventListener('cancel', (ev) => ev.preventDefault());
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (!input.value)
            return;
        api.setToken(input.value.trim());
        dlg.close();
        dlg.remove();
        showSignout();
        resolve();
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
}));

showSignout();
route();
