// page_runners: "/runners": each runner's state, read again every few
// seconds and after each run event; pause and resume.

import { h, link, badge, shortId, time, announce } from './dom.js';
import * as api from './api.js';

const REFRESH_MS = 5000;

export function runnersPage(ctx) {
    const tbody = h('tbody');
    const note = h('p', { className: 'muted', hidden: true });
    const table = h('table', { className: 'runners' },
        h('caption', { className: 'sr-only' }, 'Runners'),
        h('thead', null, h('tr', null, ...['Name', 'Host', 'Engine', 'Status', 'Paused', 'Slots busy', 'Current run', 'Last seen', '']
            .map((t) => h('th', { scope: 'col' }, t)))),
        tbody);
    ctx.main.append(h('div', { className: 'page-head' }, h('h1', null, 'Runners')), h('div', { className: 'table-wrap' }, table), note);
    document.title = 'Runners · GitWeave';
    let stopped = false;

    async function toggle(r) {
        const what = r.paused ? 'resume' : 'pause';
        try {
            await api.post(`/runners/${encodeURIComponent(r.name)}/${what}`);
            announce(`${r.name} ${r.paused ? 'resumed' : 'paused'}`);
        } catch (e) {
            note.hidden = false;
            note.textContent = e.message;
        }
        load();
    }

    const cell = (label, ...c) => h('td', { dataset: { label } }, ...c);
    let loading = null;
    let again = false;
    // One read at a time; what asks meanwhile gets one more read after it.
    function load() {
        if (loading) {
            again = true;
            return loading;
        }
        loading = read().finally(() => {
            loading = null;
            if (again) {
                again = false;
                load();
            }
        });
        return loading;
    }
    async function read() {
        let data;
        try {
            data = await api.get('/runners');
        } catch (e) {
            note.hidden = false;
            note.textContent = `Could not read the runners: ${e.message}`;
            return;
        }
        if (stopped)
            return;
        note.hidden = data.runners.length > 0;
        note.textContent = data.runners.length ? '' : 'No runner has registered yet.';
        tbody.replaceChildren(...data.runners.map((r) => h('tr', { dataset: { runner: r.name } },
            cell('Name', h('b', null, r.name)),
            cell('Host', r.hostname || '—'),
            cell('Engine', r.engine || '—'),
            cell('Status', badge(r.status), r.status_detail ? h('span', { className: 'muted' }, ` ${r.status_detail}`) : null),
            cell('Paused', r.paused ? badge('paused') : 'no'),
            cell('Slots busy', `${r.busy ?? 0} / ${r.slots ?? 1}`),
            cell('Current run', r.current_run ? link(`/runs/${r.current_run}`, h('code', null, shortId(r.current_run))) : '—'),
            cell('Last seen', time(r.last_seen_at)),
            cell('', h('button', { type: 'button', className: 'btn btn-small', onclick: () => toggle(r) }, r.paused ? '▶ Resume' : '❚❚ Pause')))));
    }
    load();
    const timer = setInterval(load, REFRESH_MS);
    const stream = api.follow('/events', { onEvent: (type) => { if (type === 'run') load(); }, onReopen: load });
    return { dispose() { stopped = true; clearInterval(timer); stream.stop(); } };
}
