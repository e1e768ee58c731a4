// page_search: "/search" (log search across runs, GET /logs/search). The
// query and its filters live in the address (q, re, repo, status,
// template, ref, order), so a search can be bookmarked and shared; "More"
// reads the next page with the reply's cursor. Each match is the stored
// line, drawn as the log view draws it (ansi.js pieces, Text nodes), with
// what matched marked, and links to its line in the job's log.

import { h, link, badge, shortRef, shortId, time } from './dom.js';
import * as api from './api.js';
import { parseLine } from './ansi.js';
import { fillLine } from './logview.js';

const STATUSES = ['queued', 'running', 'success', 'failed', 'canceled'];
const PAGE = 50;
// The parameters a search keeps in the address (the API's own names).
const KEYS = ['q', 're', 'repo', 'status', 'template', 'ref', 'order'];

// The search named by an address's query string.
export function searchOf(query) {
    const s = {};
    for (const k of KEYS)
        s[k] = query.get(k) || '';
    s.re = s.re === 'true' ? 'true' : '';
    s.order = s.order === 'oldest' ? 'oldest' : '';
    return s;
}

// The page address of a search (empty values left out).
export function searchHref(s) {
    const q = new URLSearchParams();
    for (const k of KEYS)
        if (s[k])
            q.set(k, s[k]);
    const t = q.toString();
    return t ? `/search?${t}` : '/search';
}

// Where in the shown text of a line (the pieces' text joined) the search
// matches: [[from, to, false]]. A literal matches without regard to case;
// a regular expression is tried as a JavaScript one (Postgres's syntax
// mostly agrees); one it cannot read, or reads otherwise, marks nothing:
// the line still shows.
export function matchRanges(text, q, re) {
    const out = [];
    if (!q)
        return out;
    if (!re) {
        const hay = text.toLowerCase();
        const needle = q.toLowerCase();
        for (let at = hay.indexOf(needle); at >= 0 && out.length < 100; at = hay.indexOf(needle, at + needle.length))
            out.push([at, at + needle.length, false]);
        return out;
    }
    // Postgres's own escapes and classes mean something else to JavaScript
    // (\y a word boundary, [[:digit:]] a class): better no mark than a wrong one.
    if (/\\[mMyYAZ]|\[\[[:.=]/.test(q))
        return out;
    let rx;
    try {
        rx = new RegExp(q, 'gi');
    } catch {
        return out;
    }
    for (let m = rx.exec(text); m && out.length < 100; m = rx.exec(text)) {
        if (m[0] === '') {
            rx.lastIndex++;
            continue;
        }
        out.push([m.index, m.index + m[0].length, false]);
    }
    return out;
}

// The API's refusal in words: what was refused, then its reason.
function refusal(e) {
    const why = String(e.body.detail || e.message);
    const reason = `${why.charAt(0).toUpperCase()}${why.slice(1)}${/[.)]$/.test(why) ? '' : '.'}`;
    if (e.status === 422)
        return `This regular expression cannot be searched. ${reason}`;
    if (e.status === 400)
        return `This search was refused. ${reason}`;
    return `Could not search the logs: ${why}`;
}

function matchLine(m, s) {
    const pieces = parseLine(m.text);
    const shown = pieces.map((p) => p.t).join('');
    const text = h('code', { className: 'hit-text' });
    fillLine(text, pieces, matchRanges(shown, s.q, !!s.re));
    if (m.truncated)
        text.append(h('span', { className: 'hit-cut', title: 'the line goes on: cut to 1 KiB here' }, '…'));
    const a = link(`/runs/${m.run}/jobs/${m.job}#L${m.line}`,
        h('span', { className: 'hit-num', attrs: { 'aria-label': `line ${m.line}` } }, String(m.line)), text);
    a.className = 'hit-line';
    return h('li', { dataset: { job: m.job, line: String(m.line) } }, a);
}

// The heading of the matches of one job in a row: its run's status, repo,
// template, ref, job and when the run was made.
function group(m) {
    const lines = h('ol', { className: 'hit-lines' });
    const el = h('li', { className: 'hit', dataset: { run: m.run, job: m.job } },
        h('div', { className: 'hit-head' },
            badge(m.status),
            h('span', null, link(`/repos/${encodeURIComponent(m.repo)}`, m.repo), h('span', { className: 'muted' }, ' / '),
                h('span', { title: 'template' }, m.template || '—')),
            h('span', null, h('span', { className: 'muted' }, 'on '), h('span', { className: 'ref', title: m.ref || '' }, shortRef(m.ref))),
            h('span', null, h('span', { className: 'muted' }, 'job '),
                link(`/runs/${m.run}/jobs/${m.job}`, m.job_name, ' of run ', h('code', null, shortId(m.run)))),
            h('span', { className: 'muted' }, 'run made ', time(m.run_created_at))),
        lines);
    return { el, lines, job: m.job };
}

function select(name, label, values, chosen) {
    return h('div', { className: 'filter' }, h('label', { htmlFor: `s-${name}` }, label),
        h('select', { name, id: `s-${name}` },
            h('option', { value: '' }, 'all'),
            ...values.map((v) => h('option', { value: v, selected: v === chosen }, v))));
}

function check(name, label, on) {
    return h('label', { className: 'check' }, h('input', { type: 'checkbox', name, checked: on }), ' ', label);
}

export function searchPage(ctx) {
    const s = searchOf(ctx.query);
    const input = h('input', {
        type: 'search', name: 'q', id: 's-q', value: s.q, required: true, maxLength: 1000,
        placeholder: 'connection refused', autocomplete: 'off', spellcheck: false,
    });
    const form = h('form', { className: 'search-form', attrs: { role: 'search', 'aria-label': 'Search the logs' } },
        h('div', { className: 'filter search-q' }, h('label', { htmlFor: 's-q' }, 'Text in a log line'), input),
        select('repo', 'Repo', s.repo ? [s.repo] : [], s.repo),
        select('status', 'Run status', STATUSES, s.status),
        h('div', { className: 'filter checks' },
            check('re', 'Regular expression', !!s.re),
            check('oldest', 'Oldest first', s.order === 'oldest')),
        h('button', { type: 'submit', className: 'btn btn-primary' }, 'Search'));
    // Filters the address holds that the form does not show are kept.
    const apply = () => {
        const fd = new FormData(form);
        ctx.navigate(searchHref({
            ...s, q: String(fd.get('q') || ''), repo: String(fd.get('repo') || ''), status: String(fd.get('status') || ''),
            re: fd.get('re') ? 'true' : '', order: fd.get('oldest') ? 'oldest' : '',
        }));
    };
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        apply();
    });
    // A changed filter searches again at once (the text waits for Enter).
    form.addEventListener('change', (ev) => {
        if (ev.target !== input && input.value)
            apply();
    });
    (async () => {
        try {
            const data = await api.get('/repos');
            const sel = form.elements.repo;
            for (const r of data.repos)
                if (r.name !== s.repo)
                    sel.append(h('option', { value: r.name }, r.name));
        } catch { /* the filter still works by address */ }
    })();

    const others = [s.template && `template ${s.template}`, s.ref && `ref ${s.ref}`].filter(Boolean);
    const note = h('p', { className: 'muted search-note', attrs: { role: 'status' } });
    const error = h('p', { className: 'alert', hidden: true, attrs: { role: 'alert' } });
    const list = h('ol', { className: 'hits' });
    const more = h('button', { type: 'button', className: 'btn', hidden: true }, 'More');
    ctx.main.append(
        h('div', { className: 'page-head' }, h('h1', null, 'Search the logs')),
        form,
        ...(others.length ? [h('p', { className: 'muted' }, `Also only: ${others.join(', ')}.`)] : []),
        error, note, list, h('div', { className: 'pager' }, more));
    document.title = s.q ? `${s.q} · Search · GitWeave` : 'Search · GitWeave';
    if (!s.q) {
        note.textContent = 'Every job\'s log, newest first: a line matches when it holds the text, without regard to case.';
        input.focus();
        return {};
    }

    let stopped = false;
    let next = null;
    let last = null; // the group the last match went into
    let count = 0;
    async function load() {
        const q = new URLSearchParams({ q: s.q, limit: String(PAGE) });
        for (const k of ['re', 'repo', 'status', 'template', 'ref', 'order'])
            if (s[k]) q.set(k, s[k]);
        if (next)
            q.set('before', next);
        more.disabled = true;
        let data;
        try {
            data = await api.get(`/logs/search?${q}`);
        } catch (e) {
            if (stopped)
                return;
            error.textContent = refusal(e);
            error.hidden = false;
            note.textContent = '';
            more.hidden = true;
            if (e.status === 422 || e.status === 400)
                form.elements.q.setAttribute('aria-invalid', 'true');
            return;
        }
        if (stopped)
            return;
        for (const m of data.matches) {
            if (!last || last.job !== m.job) {
                last = group(m);
                list.append(last.el);
            }
            last.lines.append(matchLine(m, s));
        }
        count += data.matches.length;
        next = data.next;
        more.hidden = !next;
        more.disabled = false;
        note.textContent = count === 0 ? 'No line matches.'
            : `${count} ${count === 1 ? 'line' : 'lines'}${next ? ' so far' : ''}, ${s.order === 'oldest' ? 'oldest' : 'newest'} first.`;
    }
    more.addEventListener('click', load);
    note.textContent = 'Searching…';
    load();
    return { dispose() { stopped = true; } };
}
