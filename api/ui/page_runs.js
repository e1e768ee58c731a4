// page_runs: "/" (every repo's runs, filtered by the address) and the run
// table that the repo page shows too. New runs and status changes come
// from the event stream (/events), without a reload.

import { h, link, badge, shortSha, shortRef, shortId, time, durationEl, announce } from './dom.js';
import * as api from './api.js';
import { searchHref } from './page_search.js';

const STATUSES = ['queued', 'running', 'success', 'failed', 'canceled'];
const PAGE = 25;

function cell(label, ...content) {
    return h('td', { dataset: { label } }, ...content);
}

function runRow(run) {
    return h('tr', { dataset: { run: run.id, status: run.status } },
        cell('Status', badge(run.status)),
        cell('Run', link(`/runs/${run.id}`, h('code', null, shortId(run.id)))),
        cell('Repo', link(`/repos/${encodeURIComponent(run.repo)}`, run.repo)),
        cell('Template', run.template || '—'),
        cell('Ref', h('span', { className: 'ref', title: run.ref || '' }, shortRef(run.ref))),
        cell('Commit', h('code', { title: run.commit || '' }, shortSha(run.commit))),
        cell('Trigger', run.trigger || '—'),
        cell('Created', time(run.created_at)),
        cell('Duration', durationEl(run.started_at, run.ended_at)));
}

// A table of runs, a page at a time, kept current by the event stream.
// filter: {repo, status, template, before}; pageHref(before) gives the
// address of another page.
export function runTable({ filter, pageHref, title = 'Pipeline runs' }) {
    const tbody = h('tbody');
    const pager = h('nav', { className: 'pager', attrs: { 'aria-label': 'Pages of runs' } });
    const note = h('p', { className: 'muted', hidden: true });
    const table = h('table', { className: 'runs' },
        h('caption', { className: 'sr-only' }, `${title}, newest first`),
        h('thead', null, h('tr', null, ...['Status', 'Run', 'Repo', 'Template', 'Ref', 'Commit', 'Trigger', 'Created', 'Duration']
            .map((t) => h('th', { scope: 'col' }, t)))),
        tbody);
    const el = h('div', { className: 'run-table' }, h('div', { className: 'table-wrap' }, table), note, pager);
    const rows = new Map();
    let timer = 0;
    let stopped = false;
    let loaded = false;

    async function load() {
        const q = new URLSearchParams({ limit: String(PAGE) });
        for (const k of ['repo', 'status', 'template', 'before'])
            if (filter[k]) q.set(k, filter[k]);
        let data;
        try {
            data = await api.get(`/pipelines/runs?${q}`);
        } catch (e) {
            note.hidden = false;
            note.textContent = `Could not read the runs: ${e.message}`;
            return;
        }
        if (stopped)
            return;
        const before = new Set(rows.keys());
        rows.clear();
        const trs = data.runs.map((r) => {
            const tr = runRow(r);
            // A run that came in while the page was open stands out a moment.
            if (loaded && !before.has(r.id))
                tr.classList.add('row-new');
            rows.set(r.id, { tr, run: r });
            return tr;
        });
        loaded = true;
        tbody.replaceChildren(...trs);
        note.hidden = trs.length > 0;
        note.textContent = trs.length ? '' : 'No runs yet.';
        pager.replaceChildren();
        if (filter.before)
            pager.append(link(pageHref(null), '← Newest'));
        if (data.next)
            pager.append(link(pageHref(data.next), 'Older →'));
    }

    function loadSoon() {
        clearTimeout(timer);
        timer = setTimeout(load, 150);
    }

    const q = filter.repo ? `?repo=${encodeURIComponent(filter.repo)}` : '';
    const stream = api.follow(`/events${q}`, {
        onEvent(type, ev) {
            if (type !== 'run')
                return;
            const known = rows.get(ev.id);
            if (known) {
                const run = { ...known.run, status: ev.status, started_at: ev.started_at, ended_at: ev.ended_at, error: ev.error };
                const tr = runRow(run);
                known.tr.replaceWith(tr);
                rows.set(ev.id, { tr, run });
                announce(`run ${shortId(ev.id)} ${ev.status}`);
            } else if (!filter.before) {
                loadSoon();
            }
        },
        onReopen: load,
    });
    load();
    return { el, dispose() { stopped = true; stream.stop(); clearTimeout(timer); } };
}

function select(name, label, values, chosen) {
    const s = h('select', { name, id: `f-${name}` },
        h('option', { value: '' }, `all`),
        ...values.map((v) => h('option', { value: v, selected: v === chosen }, v)));
    return h('div', { className: 'filter' }, h('label', { htmlFor: `f-${name}` }, label), s);
}

export function runsPage(ctx) {
    const filter = {
        repo: ctx.query.get('repo') || '', status: ctx.query.get('status') || '',
        template: ctx.query.get('template') || '', before: ctx.query.get('before') || '',
    };
    const href = (over) => {
        const q = new URLSearchParams();
        for (const k of ['repo', 'status', 'template', 'before']) {
            const v = k in over ? over[k] : filter[k];
            if (v) q.set(k, v);
        }
        const s = q.toString();
        return s ? `/?${s}` : '/';
    };
    const form = h('form', { className: 'filters', attrs: { 'aria-label': 'Filter the runs' } },
        select('repo', 'Repo', filter.repo ? [filter.repo] : [], filter.repo),
        select('status', 'Status', STATUSES, filter.status),
        select('template', 'Template', filter.template ? [filter.template] : [], filter.template));
    form.addEventListener('change', () => {
        const fd = new FormData(form);
        ctx.navigate(href({ repo: fd.get('repo'), status: fd.get('status'), template: fd.get('template'), before: '' }));
    });
    form.addEventListener('submit', (ev) => ev.preventDefault());
    // The names to choose from (the current choice is there already).
    const fill = async (name, path, key) => {
        try {
            const data = await api.get(path);
            const s = form.elements[name];
            for (const it of data[key])
                if (it.name !== filter[name])
                    s.append(h('option', { value: it.name }, it.name));
        } catch { /* the filter still works by address */ }
    };
    fill('repo', '/repos', 'repos');
    fill('template', '/templates', 'templates');
    // A search of the logs of the runs shown (their filters go along).
    const filtered = filter.repo || filter.status || filter.template;
    const q = h('input', {
        type: 'search', name: 'q', id: 'runs-q', required: true, maxLength: 1000, autocomplete: 'off', spellcheck: false,
        placeholder: 'connection refused',
    });
    const search = h('form', { className: 'filters runs-search', attrs: { role: 'search', 'aria-label': 'Search the logs of these runs' } },
        h('div', { className: 'filter' }, h('label', { htmlFor: 'runs-q' }, filtered ? 'Search the logs of these runs' : 'Search the logs of every run'), q),
        h('button', { type: 'submit', className: 'btn' }, 'Search'));
    search.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (q.value)
            ctx.navigate(searchHref({ q: q.value, repo: filter.repo, status: filter.status, template: filter.template }));
    });
    const table = runTable({ filter, pageHref: (before) => href({ before: before || '' }) });
    document.title = 'Runs · GitWeave';
    ctx.main.append(h('div', { className: 'page-head' }, h('h1', null, 'Runs'), search, form), table.el);
    return { dispose: table.dispose };
}
