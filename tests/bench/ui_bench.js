// The web page's figures (see ui_bench.sh): no assertions, a table.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { launch, client, sleep } = require('../ui/lib');

const ROOT = process.env.API_ROOT;
const TOKEN = process.env.TOKEN;
const api = client(ROOT, TOKEN);
const psql = (sql) => execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', process.env.DATABASE_URL, '-c', sql]).toString().trim();
const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const rows = [];
const row = (what, value) => {
    rows.push([what, value]);
    console.log(`${what}: ${value}`);
};

// Records, from the start of each navigation, when a selector first matches.
function watchFor(ctx) {
    return ctx.addInitScript(() => {
        window.__seen = {};
        window.__maxEls = 0;
        const look = () => {
            const n = document.getElementsByTagName('*').length;
            if (n > window.__maxEls) window.__maxEls = n;
            for (const [name, test] of Object.entries(window.__want || {}))
                if (!(name in window.__seen) && test())
                    window.__seen[name] = performance.now();
        };
        new MutationObserver(look).observe(document, { childList: true, subtree: true, characterData: true });
        window.__want = {
            firstPage: () => document.querySelectorAll('tr[data-run]').length >= 25,
            lastLine: () => [...document.querySelectorAll('.ln-text')].some((t) => t.textContent.startsWith('line 100000 ')),
        };
    });
}

async function main() {
    const { ctx, close } = await launch();
    await ctx.addInitScript((t) => sessionStorage.setItem('gitweave.token', t), TOKEN);
    await watchFor(ctx);
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(60000);

    // 1. "/" with 10,000 runs: navigation start -> first page of rows in the DOM.
    const list = [];
    const listApi = [];
    const empty = [];
    for (let i = 0; i < 7; i++) {
        await page.goto(`${ROOT}/`);
        await page.waitForFunction(() => 'firstPage' in window.__seen);
        list.push(await page.evaluate(() => window.__seen.firstPage));
        listApi.push(await page.evaluate(() => {
            const e = performance.getEntriesByType('resource').find((x) => x.name.includes('/api/v1/pipelines/runs?'));
            return e.responseEnd - e.requestStart;
        }));
        // The same page with nothing to show: what the browser and the page cost alone.
        await page.goto(`${ROOT}/?repo=none`);
        await page.waitForFunction(() => /No runs yet/.test(document.body.textContent));
        empty.push(await page.evaluate(() => performance.now()));
    }
    list.shift(); // the first load fills the browser's cache
    empty.shift();
    listApi.shift();
    row('/ with 10,000 runs: first page (25 runs) visible (ms after navigation, median of 6 / max)',
        `${pct(list, 50).toFixed(0)} / ${Math.max(...list).toFixed(0)}`);
    row("of which the API's reply to the page of runs (ms, median)", pct(listApi, 50).toFixed(0));
    row('the same page with no run to show (ms after navigation, median)', pct(empty, 50).toFixed(0));

    // 2. A job of 100,000 lines (~10 MB).
    const seed = (await api.get('/pipelines/runs?limit=1')).runs[0].id;
    const job = (await api.get(`/pipelines/runs/${seed}`)).jobs.at(-1).id;
    psql(`UPDATE jobs SET status = 'running', started_at = now() WHERE id = '${job}';
          UPDATE pipeline_runs SET status = 'running', started_at = now() WHERE id = '${seed}';
          UPDATE jobs SET status = 'success', ended_at = now(), exit_code = 0 WHERE id = '${job}';
          INSERT INTO logs (job_id, "offset", chunk)
          SELECT '${job}', c * 9900, string_agg(format('line %s %s', lpad(n::text, 6, '0'), repeat('x', 86)) || E'\\n', '' ORDER BY n)
          FROM generate_series(1, 100000) n, LATERAL (SELECT (n - 1) / 100 AS c) x GROUP BY c`);
    const size = Number(psql(`SELECT sum(octet_length(chunk)) FROM logs WHERE job_id = '${job}'`));
    const big = [];
    const fetched = [];
    let maxEls = 0;
    for (let i = 0; i < 4; i++) {
        await page.goto(`${ROOT}/runs/${seed}/jobs/${job}`);
        await page.waitForFunction(() => 'lastLine' in window.__seen);
        big.push(await page.evaluate(() => window.__seen.lastLine));
        fetched.push(await page.evaluate(() => performance.getEntriesByType('resource')
            .find((e) => e.name.includes('/logs.txt')).responseEnd));
        // To the top and back, a screen at a time for a while.
        await page.locator('.log-scroll').focus();
        await page.keyboard.press('Home');
        await page.waitForSelector('.ln-num[data-line="1"]');
        for (let k = 0; k < 30; k++)
            await page.keyboard.press('PageDown');
        await page.keyboard.press('End');
        await page.waitForFunction(() => [...document.querySelectorAll('.ln-text')].some((t) => t.textContent.startsWith('line 100000 ')));
        maxEls = Math.max(maxEls, await page.evaluate(() => window.__maxEls));
    }
    row(`a log of 100,000 lines (${(size / 1e6).toFixed(1)} MB): last line visible (ms after navigation, median of 4 / max)`,
        `${pct(big, 50).toFixed(0)} / ${Math.max(...big).toFixed(0)}`);
    row('of which the log downloaded (logs.txt, ms after navigation, median)', pct(fetched, 50).toFixed(0));
    row('most elements in the whole page while loading, scrolling to the top and back', String(maxEls));

    // 3. Live lines: chunks stored one every 50 ms while the page follows.
    const live = await api.post('/repos/bench/pipelines/run', {});
    const lj = live.jobs.at(-1).id;
    psql(`UPDATE pipeline_runs SET status = 'running', started_at = now() WHERE id = '${live.id}';
          UPDATE jobs SET status = 'running', started_at = now() WHERE id = '${lj}'`);
    await page.goto(`${ROOT}/runs/${live.id}/jobs/${lj}`);
    await page.waitForSelector('.log-scroll');
    await sleep(1000);
    await page.evaluate(() => {
        window.__arrived = {};
        new MutationObserver(() => {
            for (const t of document.querySelectorAll('.ln-text')) {
                const m = /^seq (\d+) /.exec(t.textContent);
                if (m && !(m[1] in window.__arrived))
                    window.__arrived[m[1]] = Date.now();
            }
        }).observe(document.querySelector('.log-rows'), { childList: true, subtree: true });
    });
    const N = 300;
    const line = (n) => `seq ${String(n).padStart(5, '0')} ${'y'.repeat(40)}\n`;
    const sql = spawn('psql', ['-X', '-q', '-d', process.env.DATABASE_URL], { stdio: ['pipe', 'ignore', 'inherit'] });
    for (let n = 1; n <= N; n++) {
        sql.stdin.write(`INSERT INTO logs (job_id, "offset", chunk) VALUES ('${lj}', ${(n - 1) * line(1).length}, '${line(n)}');\n`);
        await sleep(50);
    }
    sql.stdin.end();
    await new Promise((r) => sql.on('close', r));
    await page.waitForFunction((n) => Object.keys(window.__arrived).length >= n, N);
    const arrived = await page.evaluate(() => window.__arrived);
    const stored = psql(`SELECT string_agg(substr(chunk, 5, 5) || ' ' || (extract(epoch FROM created_at) * 1000)::bigint, ',') FROM logs WHERE job_id = '${lj}'`)
        .split(',').map((x) => x.split(' '));
    const lat = stored.map(([seq, at]) => arrived[seq] - Number(at));
    row(`live lines (${N}, one every 50 ms): stored chunk's created_at -> on screen, ms p50 / p99 / max`,
        `${pct(lat, 50)} / ${pct(lat, 99)} / ${Math.max(...lat)}`);

    // 4. The page's own bytes.
    const dir = path.join(__dirname, '../../api/ui');
    const files = fs.readdirSync(dir);
    const bytes = files.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    row(`the page's own files (${files.length}: HTML, JS modules, CSS, icon), uncompressed`, `${(bytes / 1024).toFixed(1)} KB`);

    console.log('\n| what | figure |\n|---|---|');
    for (const [w, v] of rows)
        console.log(`| ${w} | ${v} |`);
    await close();
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
