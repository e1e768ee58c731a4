// dom: building elements from data as text, never as markup, and the
// formats every page shares (statuses, times, durations).
//
// h(tag, props, ...children): props are set as DOM properties (className,
// href, type, ...) or, for "on*" names, as event listeners; "dataset" and
// "attrs" objects set data-* and other attributes. Children are nodes or
// strings; a string becomes a Text node, so whatever it holds is shown as
// written. Nothing here parses HTML.

export function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
        for (const [k, v] of Object.entries(props)) {
            if (v === undefined || v === null || v === false)
                continue;
            if (k.startsWith('on') && typeof v === 'function')
                el.addEventListener(k.slice(2).toLowerCase(), v);
            else if (k === 'dataset')
                Object.assign(el.dataset, v);
            else if (k === 'attrs')
                for (const [a, av] of Object.entries(v))
                    el.setAttribute(a, String(av));
            else
                el[k] = v;
        }
    }
    append(el, children);
    return el;
}

// Replace the children of el (null, false and undefined are left out, as in h).
export function setChildren(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

function append(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false)
            continue;
        if (Array.isArray(c))
            append(el, c);
        else
            el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

// A link that the page follows itself (history API), not by loading.
export function link(href, ...children) {
    return h('a', { href, dataset: { nav: '' } }, ...children);
}

export const FINAL = new Set(['success', 'failed', 'canceled', 'skipped']);

const STATUS_ICON = {
    queued: '○', running: '◐', success: '✓', failed: '✕', canceled: '⊘', skipped: '↷',
    idle: '●', busy: '◐', draining: '◑', offline: '○', paused: '❚❚',
};

// A status in words and colour: the word is always there.
export function badge(status) {
    const s = String(status || 'unknown');
    return h('span', { className: `badge st-${s.replace(/[^a-z]/g, '')}`, title: s },
        h('span', { className: 'badge-icon', attrs: { 'aria-hidden': 'true' } }, STATUS_ICON[s] || '?'),
        s);
}

export function shortSha(sha) {
    return sha ? String(sha).slice(0, 8) : '—';
}

export function shortRef(ref) {
    if (!ref)
        return '—';
    return String(ref).replace(/^refs\/heads\//, '').replace(/^refs\/tags\//, 'tag ');
}

export function shortId(id) {
    return String(id || '').slice(0, 8);
}

// "3 min ago" for a timestamp; the absolute time goes into a title.
export function ago(ts, now = Date.now()) {
    if (!ts)
        return '—';
    const s = Math.max(0, Math.round((now - Date.parse(ts)) / 1000));
    if (s < 10) return 'just now';
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
}

// The time from start to end (now while it runs): "1m 05s".
export function duration(start, end, now = Date.now()) {
    if (!start)
        return '—';
    const ms = Math.max(0, (end ? Date.parse(end) : now) - Date.parse(start));
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

export function time(ts) {
    if (!ts)
        return '—';
    const t = h('time', { dateTime: ts, title: new Date(ts).toLocaleString() }, ago(ts));
    t.dataset.ago = ts;
    return t;
}

// Every second, refresh what says "… ago" or a running duration.
export function tick(root) {
    const now = Date.now();
    for (const t of root.querySelectorAll('[data-ago]'))
        t.textContent = ago(t.dataset.ago, now);
    for (const d of root.querySelectorAll('[data-since]'))
        d.textContent = duration(d.dataset.since, null, now);
}

// A duration that ticks while end is null.
export function durationEl(start, end) {
    const el = h('span', { className: 'dur' }, duration(start, end));
    if (start && !end)
        el.dataset.since = start;
    return el;
}

// A confirmation as a modal <dialog> of the page (keyboard: Esc cancels,
// the confirming button has focus). Resolves true or false.
export function confirmDialog(question, yes) {
    return new Promise((resolve) => {
        const ok = h('button', { type: 'submit', className: 'btn btn-danger', value: 'yes' }, yes);
        const no = h('button', { type: 'submit', className: 'btn', value: 'no' }, 'Keep it');
        const form = h('form', { method: 'dialog' }, h('p', null, question), h('div', { className: 'dlg-buttons' }, no, ok));
        const dlg = h('dialog', { className: 'dlg', attrs: { 'aria-label': question } }, form);
        dlg.addEventListener('close', () => {
            resolve(dlg.returnValue === 'yes');
            dlg.remove();
        });
        document.body.append(dlg);
        dlg.showModal();
        ok.focus();
    });
}

export function announce(text) {
    const live = document.getElementById('live');
    if (live)
        live.textContent = text;
}
