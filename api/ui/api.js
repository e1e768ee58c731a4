// api: the page's one way to the API (/api/v1): JSON requests and
// Server-Sent Events read with fetch(), so the token travels in the
// Authorization header and never in an address. The token is asked for
// when the API answers 401 and kept in sessionStorage (this tab, until it
// closes) only.

const TOKEN_KEY = 'gitweave.token';
const BASE = '/api/v1';

export class ApiError extends Error {
    constructor(status, body) {
        super((body && (body.detail || body.error)) || `the API answered ${status}`);
        this.status = status;
        this.body = body || {};
    }
}

let askToken = null; // set by the app: (wrong) => Promise, resolved once a token is saved
let asking = null;

export function onTokenNeeded(fn) {
    askToken = fn;
}

export function setToken(t) {
    if (t)
        sessionStorage.setItem(TOKEN_KEY, t);
    else
        sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
    const hd = { Accept: 'application/json', ...extra };
    const t = sessionStorage.getItem(TOKEN_KEY);
    if (t)
        hd.Authorization = `Bearer ${t}`;
    return hd;
}

// Wait for a token (one prompt for every request that got 401 meanwhile).
function needToken() {
    if (!askToken)
        return Promise.reject(new ApiError(401, { error: 'unauthorized' }));
    if (!asking) {
        const wrong = sessionStorage.getItem(TOKEN_KEY) !== null;
        asking = askToken(wrong).finally(() => { asking = null; });
    }
    return asking;
}

async function fetchAuthed(path, init) {
    for (;;) {
        const res = await fetch(BASE + path, { ...init, headers: headers(init.headers), cache: 'no-store' });
        if (res.status !== 401)
            return res;
        await res.body?.cancel();
        await needToken();
    }
}

export async function request(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
    }
    const res = await fetchAuthed(path, init);
    const type = res.headers.get('Content-Type') || '';
    const data = type.includes('json') ? await res.json().catch(() => null) : null;
    if (!res.ok)
        throw new ApiError(res.status, data);
    return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);

// A log as text (logs.txt) with its length in bytes (the offset to follow from).
export async function text(path) {
    const res = await fetchAuthed(path, { method: 'GET', headers: { Accept: 'text/plain' } });
    if (!res.ok)
        throw new ApiError(res.status, await res.json().catch(() => null));
    const buf = await res.arrayBuffer();
    return { text: new TextDecoder().decode(buf), bytes: buf.byteLength };
}

// Open the raw log in a new tab: a plain link when there is no token, else
// the text fetched with the header and shown from a blob: address.
export async function openRaw(path) {
    // The tab opens now, while the click allows it; the text comes later.
    const tab = window.open('about:blank', '_blank');
    if (tab)
        tab.opener = null;
    const res = await fetchAuthed(path, { method: 'GET', headers: { Accept: 'text/plain' } });
    const blob = new Blob([await res.arrayBuffer()], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    if (tab)
        tab.location.href = url;
    else
        window.location.href = url;
    setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// Parse an event stream: onEvent(type, data, id) for each event.
async function readEvents(res, onEvent, signal) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const abort = () => reader.cancel().catch(() => {});
    signal.addEventListener('abort', abort);
    let buf = '';
    let type = 'message';
    let data = [];
    let id = null;
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done || signal.aborted)
                return;
            buf += value;
            let at = 0;
            for (;;) {
                const nl = buf.indexOf('\n', at);
                if (nl < 0)
                    break;
                let line = buf.slice(at, nl);
                at = nl + 1;
                if (line.endsWith('\r'))
                    line = line.slice(0, -1);
                if (line === '') {
                    if (data.length)
                        onEvent(type, data.join('\n'), id);
                    type = 'message';
                    data = [];
                    continue;
                }
                if (line[0] === ':')
                    continue;
                const c = line.indexOf(':');
                const field = c < 0 ? line : line.slice(0, c);
                let v = c < 0 ? '' : line.slice(c + 1);
                if (v[0] === ' ')
                    v = v.slice(1);
                if (field === 'event') type = v;
                else if (field === 'data') data.push(v);
                else if (field === 'id') id = v;
            }
            buf = buf.slice(at);
        }
    } finally {
        signal.removeEventListener('abort', abort);
    }
}

// Streams waiting to open again, shown in the page's header.
let cut = 0;
function showCut(d) {
    cut += d;
    const conn = document.getElementById('conn');
    if (conn)
        conn.textContent = cut > 0 ? 'reconnecting…' : '';
}

// Follow a stream until stop() or until onEvent returns false (the stream's
// own end). A stream cut short is opened again after a pause, from the last
// id (logs) or with onReopen called first (events, which have no history).
export function follow(path, { onEvent, onReopen, lastId = null }) {
    const ctl = new AbortController();
    let ended = false;
    let down = false; // counted in showCut
    const up = () => {
        if (down) {
            down = false;
            showCut(-1);
        }
    };
    ctl.signal.addEventListener('abort', up);
    const run = async () => {
        let delay = 500;
        while (!ctl.signal.aborted && !ended) {
            try {
                const hd = { Accept: 'text/event-stream' };
                if (lastId !== null)
                    hd['Last-Event-ID'] = lastId;
                const res = await fetchAuthed(path, { method: 'GET', headers: hd, signal: ctl.signal });
                if (!res.ok)
                    throw new ApiError(res.status, await res.json().catch(() => null));
                up();
                delay = 500;
                await readEvents(res, (type, data, id) => {
                    if (id !== null)
                        lastId = id;
                    if (onEvent(type, JSON.parse(data)) === false)
                        ended = true;
                }, ctl.signal);
            } catch (e) {
                if (ctl.signal.aborted)
                    return;
                if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) {
                    up();
                    return;
                }
            }
            if (ended || ctl.signal.aborted) {
                up();
                return;
            }
            if (!down) {
                down = true;
                showCut(1);
            }
            await new Promise((r) => setTimeout(r, delay));
            delay = Math.min(delay * 2, 8000);
            onReopen?.();
        }
    };
    run();
    return { stop: () => ctl.abort() };
}
