// Helpers of the browser tests: a headless Debian chromium driven by
// playwright-core, a tiny sequential test runner, and API calls.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.GW_CHROMIUM || '/usr/bin/chromium';

// A fresh browser profile each time, nothing from the network but the API.
async function launch(options = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--no-first-run'],
        viewport: { width: 1280, height: 800 },
        ...options,
    });
    return {
        ctx,
        async close() {
            await ctx.close();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

// Everything a page does that a test wants to know: dialogs (alert,
// confirm: an XSS would open one), uncaught errors, CSP refusals.
function watch(page, log) {
    page.on('dialog', (d) => {
        log.dialogs.push(d.message());
        d.dismiss().catch(() => {});
    });
    page.on('pageerror', (e) => log.errors.push(String(e)));
    page.on('console', (m) => {
        const t = m.text();
        // 401 (the token prompt) and 422 (the form's check) are expected replies.
        if (m.type() === 'error' && !/status of 4(01|22)/.test(t))
            log.errors.push(`console: ${t}`);
    });
}

let passes = 0;
let fails = 0;
function pass(what) { passes++; console.log(`PASS: ${what}`); }
function fail(what, why) { fails++; console.log(`FAIL: ${what}${why ? `: ${why}` : ''}`); }
function check(what, ok, why) { if (ok) pass(what); else fail(what, why); }
function eq(what, want, got) {
    const w = JSON.stringify(want);
    const g = JSON.stringify(got);
    check(what, w === g, `want ${w} got ${g}`);
}
// A step whose exception is a failure of that step (the rest still runs).
async function step(what, fn) {
    try {
        await fn();
    } catch (e) {
        fail(what, String(e && e.stack || e).split('\n').slice(0, 3).join(' | '));
    }
}
function finish() {
    console.log(`${passes} passed, ${fails} failed`);
    return fails === 0 && passes > 0 ? 0 : 1;
}

function client(root, token) {
    const call = async (method, p, body) => {
        const res = await fetch(`${root}/api/v1${p}`, {
            method,
            headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        let data = null;
        try { data = JSON.parse(text); } catch { data = text; }
        if (!res.ok)
            throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
        return data;
    };
    return {
        get: (p) => call('GET', p),
        post: (p, b) => call('POST', p, b),
        put: (p, b) => call('PUT', p, b),
        async waitRun(id, pred, ms = 60000) {
            const end = Date.now() + ms;
            for (;;) {
                const r = await call('GET', `/pipelines/runs/${id}`);
                if (pred(r))
                    return r;
                if (Date.now() > end)
                    throw new Error(`run ${id} still ${r.status}`);
                await new Promise((res) => setTimeout(res, 200));
            }
        },
    };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { launch, watch, pass, fail, check, eq, step, finish, client, sleep };
