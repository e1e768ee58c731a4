// page_run: "/runs/{id}" and "/runs/{id}/jobs/{job}": a run, its jobs and
// one job's log. The run and its jobs follow /pipelines/runs/{id}/events;
// the log is read once as text (logs.txt) and then followed from its end
// (/jobs/{job}/logs as events) while the job runs.

import { h, setChildren, link, badge, shortSha, shortRef, shortId, time, durationEl, confirmDialog, announce, FINAL } from './dom.js';
import * as api from './api.js';
import { LogView } from './logview.js';

function defaultJob(jobs) {
    return jobs.find((j) => j.status === 'failed') || jobs.find((j) => j.status === 'running') || jobs[jobs.length - 1];
}

function lineFromHash() {
    const m = /^#L(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
}

// The words for a log removed by retention ({at, after_days}, docs/retention.md).
// A job that never started has no log; nor has one whose log retention removed.
function didNotRun(job) {
    return job.status === 'skipped' || (job.status === 'canceled' && !job.started_at);
}
function hasLog(job) {
    return !didNotRun(job) && !job.logs_expired;
}

function expiredText(x) {
    const when = x.at ? ` (on ${new Date(x.at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })})` : '';
    return `Log removed after ${x.after_days} ${x.after_days === 1 ? 'day' : 'days'}${when}: the run and its jobs are kept, their logs are not.`;
}

export function runPage(ctx) {
    const runId = ctx.params.run;
    let run = null;
    let chosen = ctx.params.job; // the job named in the address, if any
    let shown = null; // the job whose log is shown
    let log = null; // {view, stream, job}
    let runStream = null;
    let disposed = false;
    // A job named in the address: its log is asked for with the run, not after it.
    let prefetch = chosen ? { id: chosen, text: api.text(`/jobs/${chosen}/logs.txt`).catch((e) => e) } : null;

    const head = h('section', { className: 'run-head' });
    const jobsNav = h('nav', { className: 'jobs', attrs: { 'aria-label': 'Jobs' } });
    const logPane = h('section', { className: 'job-log', attrs: { 'aria-label': 'Log' } });
    const body = h('div', { className: 'run-body' }, jobsNav, logPane);
    ctx.main.append(head, body);

    async function act(what) {
        const cancel = what === 'cancel';
        const yes = await confirmDialog(cancel ? 'Cancel this run?' : 'Run the same jobs again as a new run?',
            cancel ? 'Cancel the run' : 'Rerun');
        if (!yes)
            return;
        try {
            const res = await api.post(`/pipelines/runs/${runId}/${what}`);
            if (cancel) {
                announce('cancel requested');
                await reload();
            } else {
                ctx.navigate(`/runs/${res.id}`);
            }
        } catch (e) {
            showError(e.message);
        }
    }

    function showError(text) {
        const box = head.querySelector('.action-error') || h('p', { className: 'alert action-error', attrs: { role: 'alert' } });
        box.textContent = text;
        head.append(box);
    }

    function meta(label, ...value) {
        return h('div', { className: 'meta-item' }, h('dt', null, label), h('dd', null, ...value));
    }

    // Why a queued run waits (the API's waiting: null once it is claimed), as text.
    function waitingNote() {
        const w = run.status === 'queued' ? run.waiting : null;
        if (!w)
            return null;
        const where = w.position ? ` (position ${w.position} in its queue)` : '';
        return h('p', { className: 'waiting', attrs: { role: 'status' }, textContent: `Waiting: ${w.detail || w.reason}${where}` });
    }

    function drawHead() {
        const actions = h('div', { className: 'actions' });
        if (run.status === 'queued' || run.status === 'running')
            actions.append(h('button', { type: 'button', className: 'btn btn-danger', onclick: () => act('cancel') },
                run.cancel_requested_at ? 'Cancel requested…' : 'Cancel'));
        if (FINAL.has(run.status))
            actions.append(h('button', { type: 'button', className: 'btn', onclick: () => act('rerun') }, '↻ Rerun'));
        setChildren(head,
            h('div', { className: 'run-title' },
                h('h1', null, badge(run.status), ' ', h('span', null, run.template || '—'), h('span', { className: 'muted' }, ' on '),
                    link(`/repos/${encodeURIComponent(run.repo)}`, run.repo)),
                actions),
            h('dl', { className: 'meta' },
                meta('Run', h('code', null, run.id)),
                meta('Ref', h('span', { title: run.ref || '' }, shortRef(run.ref))),
                meta('Commit', h('code', { title: run.commit || '' }, shortSha(run.commit))),
                meta('Trigger', run.trigger || '—'),
                meta('Attempt', String(run.attempt ?? '—')),
                run.rerun_of ? meta('Rerun of', link(`/runs/${run.rerun_of}`, h('code', null, shortId(run.rerun_of)))) : null,
                meta('Created', time(run.created_at)),
                meta('Started', time(run.started_at)),
                meta('Ended', time(run.ended_at)),
                meta('Duration', durationEl(run.started_at, run.ended_at)),
                meta('Runner', run.runner || '—'),
                run.inputs && Object.keys(run.inputs).length
                    ? meta('Inputs', h('span', { className: 'inputs' }, ...Object.entries(run.inputs).map(([k, v]) =>
                        h('span', { className: 'input' }, h('b', null, k), '=', String(v)))))
                    : null),
            waitingNote(),
            run.error ? h('p', { className: 'alert', attrs: { role: 'alert' } }, run.error) : null);
        document.title = `${run.status} · ${run.template} · ${run.repo} · GitWeave`;
    }

    function drawJobs() {
        const items = run.jobs.map((j) => {
            const a = link(`/runs/${runId}/jobs/${j.id}`, badge(j.status), h('span', { className: 'job-name' }, j.name),
                durationEl(j.started_at, j.ended_at));
            a.className = 'job-link';
            a.dataset.job = j.id;
            if (shown && j.id === shown.id)
                a.setAttribute('aria-current', 'page');
            return h('li', null, a);
        });
        jobsNav.replaceChildren(h('h2', { className: 'sr-only' }, 'Jobs'), h('ol', null, ...items));
    }

    function stopLog() {
        log?.stream?.stop();
        log = null;
    }

    function select(job) {
        if (shown && shown.id === job.id && log)
            return;
        stopLog();
        shown = job;
        drawJobs();
        const view = new LogView();
        log = { view, stream: null, job };
        const search = h('input', { type: 'search', className: 'log-search', placeholder: 'Search the log  ( / )', attrs: { 'aria-label': 'Search the log' } });
        const count = h('span', { className: 'log-count', attrs: { 'aria-live': 'polite' } });
        const prev = h('button', { type: 'button', className: 'btn btn-small', title: 'Previous match (Shift+Enter)', onclick: () => view.step(-1) }, '↑');
        const next = h('button', { type: 'button', className: 'btn btn-small', title: 'Next match (Enter)', onclick: () => view.step(1) }, '↓');
        prev.setAttribute('aria-label', 'previous match');
        next.setAttribute('aria-label', 'next match');
        view.onSearch = () => {
            const n = view.matches.length;
            count.textContent = !view.query ? '' : n === 0 ? 'no match'
                : `${view.current >= 0 ? view.current + 1 : 0} of ${n >= 10000 ? '10000+' : n}`;
        };
        let timer = 0;
        search.addEventListener('input', () => {
            clearTimeout(timer);
            timer = setTimeout(() => {
                if (view.query !== search.value)
                    view.search(search.value);
            }, 150);
        });
        search.addEventListener('keydown', (ev) => {
            if (ev.key === 'Enter') {
                ev.preventDefault();
                clearTimeout(timer);
                if (view.query !== search.value)
                    view.search(search.value);
                view.step(ev.shiftKey ? -1 : 1);
            } else if (ev.key === 'Escape') {
                search.value = '';
                view.search('');
            }
        });
        const raw = h('a', { href: `/api/v1/jobs/${job.id}/logs.txt`, className: 'btn btn-small', target: '_blank', rel: 'noopener' }, 'Raw log');
        raw.addEventListener('click', (ev) => {
            if (!sessionStorage.getItem('gitweave.token'))
                return;
            ev.preventDefault();
            api.openRaw(`/jobs/${job.id}/logs.txt`);
        });
        const jobState = h('span', { className: 'log-state' });
        const jobError = h('p', { className: 'alert', hidden: true });
        // The job as last heard of (events and reloads replace the object).
        const drawState = () => {
            const j = shown && shown.id === job.id ? shown : job;
            setChildren(jobState, badge(j.status),
                j.exit_code !== null && j.exit_code !== undefined ? h('span', { className: 'muted' }, ` exit ${j.exit_code}`) : null);
            jobError.textContent = j.error || '';
            jobError.hidden = !j.error;
        };
        drawState();
        log.drawState = drawState;
        setChildren(logPane,
            h('div', { className: 'log-bar' },
                h('h2', null, job.name), jobState,
                h('div', { className: 'log-tools', hidden: !hasLog(job) }, search, count, prev, next,
                    h('button', { type: 'button', className: 'btn btn-small', onclick: () => view.setAll(true) }, 'Fold all'),
                    h('button', { type: 'button', className: 'btn btn-small', onclick: () => view.setAll(false) }, 'Unfold all'),
                    raw)),
            jobError,
            view.el);
        load(job, view);
    }

    async function load(job, view) {
        const mine = log;
        let offset = 0;
        let pendingTarget = lineFromHash();
        const tryTarget = () => {
            if (pendingTarget !== null && view.setTarget(pendingTarget))
                pendingTarget = null;
        };
        if (didNotRun(job)) {
            view.setMessage(`This job did not run (${job.status}).`);
            return;
        }
        if (job.logs_expired) {
            view.setMessage(expiredText(job.logs_expired));
            return;
        }
        if (job.status === 'queued') {
            view.setMessage('Waiting for a runner…');
        } else {
            view.setMessage('Loading the log…');
            try {
                let res;
                if (prefetch && prefetch.id === job.id)
                    res = await prefetch.text;
                else
                    res = await api.text(`/jobs/${job.id}/logs.txt`);
                prefetch = null;
                if (res instanceof Error)
                    throw res;
                if (log !== mine || disposed)
                    return;
                view.append(res.text);
                offset = res.bytes;
                if (!res.text)
                    view.setMessage(FINAL.has(job.status) ? 'This job printed nothing.' : 'Waiting for output…');
            } catch (e) {
                view.setMessage(`Could not read the log: ${e.message}`);
                return;
            }
            tryTarget();
            if (FINAL.has(job.status)) {
                view.finish(job.status);
                if (pendingTarget === null && lineFromHash() === null)
                    view.scrollToEnd();
                tryTarget();
                return;
            }
        }
        mine.stream = api.follow(`/jobs/${job.id}/logs?offset=${offset}`, {
            onEvent(type, d) {
                if (type === 'chunk') {
                    view.append(d.chunk);
                    tryTarget();
                } else if (type === 'end') {
                    view.finish(d.status);
                    if (!d.next_offset && !view.lines.length)
                        view.setMessage('This job printed nothing.');
                    return false;
                }
                return true;
            },
        });
    }

    function patchJob(ev) {
        const j = run.jobs.find((x) => x.id === ev.id);
        if (!j)
            return;
        Object.assign(j, { status: ev.status, exit_code: ev.exit_code, error: ev.error, started_at: ev.started_at, ended_at: ev.ended_at });
        drawJobs();
        if (shown && shown.id === j.id) {
            shown = j;
            log?.drawState?.();
        }
        // Without a job in the address, follow the pipeline to its running job.
        if (!chosen && ev.status === 'running' && shown && shown.id !== j.id && FINAL.has(shown.status))
            select(j);
    }

    async function reload() {
        try {
            const fresh = await api.get(`/pipelines/runs/${runId}`);
            if (disposed)
                return;
            run = fresh;
            drawHead();
            drawJobs();
            if (shown) {
                const j = run.jobs.find((x) => x.id === shown.id);
                if (j) {
                    shown = j;
                    log?.drawState?.();
                }
            }
        } catch { /* the stream retries */ }
    }

    async function start() {
        try {
            run = await api.get(`/pipelines/runs/${runId}`);
        } catch (e) {
            head.replaceChildren(h('h1', null, 'Run not found'), h('p', { className: 'alert' }, e.message));
            return;
        }
        if (disposed)
            return;
        drawHead();
        const job = (chosen && run.jobs.find((j) => j.id === chosen)) || defaultJob(run.jobs);
        if (job)
            select(job);
        else
            drawJobs();
        if (FINAL.has(run.status))
            return;
        runStream = api.follow(`/pipelines/runs/${runId}/events`, {
            onEvent(type, ev) {
                if (type === 'job') {
                    patchJob(ev);
                } else if (type === 'run') {
                    Object.assign(run, { status: ev.status, error: ev.error, started_at: ev.started_at, ended_at: ev.ended_at });
                    drawHead();
                    if (FINAL.has(ev.status)) {
                        reload();
                        return false;
                    }
                }
                return true;
            },
            onReopen: reload,
        });
    }

    // "/" searches the log (unless typing somewhere).
    const onKey = (ev) => {
        if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey || !log)
            return;
        if (ev.target.closest && ev.target.closest('input, select, textarea, dialog'))
            return;
        const s = logPane.querySelector('.log-search');
        if (s) {
            ev.preventDefault();
            s.focus();
            s.select();
        }
    };
    document.addEventListener('keydown', onKey);
    const onHash = () => {
        const n = lineFromHash();
        if (n !== null && log)
            log.view.setTarget(n);
    };
    window.addEventListener('hashchange', onHash);
    start();

    return {
        // Another job of the same run: switch the log, keep the page.
        update(next) {
            if (next.params.run !== runId || !run)
                return false;
            chosen = next.params.job;
            const job = (chosen && run.jobs.find((j) => j.id === chosen)) || defaultJob(run.jobs);
            if (job)
                select(job);
            // A link to a line of the job already shown moves to it.
            const n = lineFromHash();
            if (n !== null && log)
                log.view.setTarget(n);
            return true;
        },
        dispose() {
            disposed = true;
            stopLog();
            runStream?.stop();
            window.removeEventListener('hashchange', onHash);
            document.removeEventListener('keydown', onKey);
        },
    };
}
