// The web page in a real headless Chromium against a real API, worker
// (local engine) and Postgres, started by tests/integration/test_ui.sh:
// token prompt, live run list and log, colours, steps, #L{n}, search,
// cancel and rerun, the input form's errors, runners, XSS attempts, a
// 100,000-line log. Screenshots go to GW_UI_SHOTS (docs/ui/ to refresh
// the documentation's).
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { launch, watch, pass, fail, check, eq, step, finish, client, sleep } = require('./lib');

const ROOT = process.env.API_ROOT;
const TOKEN = process.env.TOKEN;
const SHOTS = process.env.GW_UI_SHOTS;
const api = client(ROOT, TOKEN);
let again = null; // the API started again by the test, stopped at its end
process.on('exit', () => again?.kill());
const psql = (sql) => execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', process.env.DATABASE_URL, '-c', sql]).toString().trim();

const ESC = '\\033';
const TEMPLATES = {
    ui: {
        kind: 'build',
        inputs: {
            MSG: { type: 'string', default: 'hello', description: 'What to print' },
            COUNT: { type: 'number', default: 3 },
            MODE: { type: 'choice', options: ['fast', 'slow'], default: 'fast' },
        },
        jobs: [
            { name: 'build', script: [
                `printf '${ESC}[1;32mgreen bold${ESC}[0m ${ESC}[38;5;208morange${ESC}[0m ${ESC}[38;2;10;20;200mtruecolor${ESC}[0m plain${ESC}[2K\\n'`,
                'echo "msg=${{ inputs.MSG }} count=${{ inputs.COUNT }}"',
            ] },
            { name: 'test', script: ['echo running tests', 'echo "3 passed, 1 failed"', 'exit 3'] },
            { name: 'deploy', script: ['echo never'] },
        ],
    },
    slow: {
        kind: 'test',
        jobs: [{ name: 'live', script: [
            `i=0; while [ $i -lt 400 ]; do i=$((i+1)); printf '${ESC}[31mred line %s${ESC}[0m\\n' $i; sleep 0.1; done`,
        ] }],
    },
    xss: {
        kind: 'test',
        inputs: { V: { type: 'string', default: '<img src=x onerror=alert(2)>', description: '<b id=injected onmouseover=alert(3)>desc</b>' } },
        jobs: [{ name: 'xss', script: [
            `echo '<script>alert(1)</script>'`,
            `echo '<img src=x onerror=alert(1)>'`,
            `printf '${ESC}]8;;javascript:alert(1)${ESC}\\\\click me${ESC}]8;;${ESC}\\\\\\n'`,
            `printf '${ESC}]0;title${ESC}\\\\${ESC}[2J${ESC}[Hafter clear\\n'`,
            'echo "v=${{ inputs.V }}"',
        ] }],
    },
    big: { kind: 'test', jobs: [{ name: 'big', script: ['true'] }] },
    gpu: { kind: 'test', 'runs-on': ['gpu'], jobs: [{ name: 'gpu', script: ['true'] }] },
};

async function setup() {
    for (const [name, doc] of Object.entries(TEMPLATES))
        await api.put(`/templates/${name}`, doc);
    await api.put('/repos/webapp', { default_branch: 'main' });
    for (const t of ['ui', 'slow', 'big', 'gpu'])
        await api.put(`/repos/webapp/templates/${t}`, {});
    await api.put('/repos/evil', { default_branch: 'main' });
    await api.put('/repos/evil/templates/xss', {});
}

const shot = async (page, name) => {
    if (SHOTS)
        await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
};

async function main() {
    await setup();
    const { ctx, close } = await launch();
    const page = ctx.pages()[0] || await ctx.newPage();
    const seen = { dialogs: [], errors: [] };
    watch(page, seen);
    page.setDefaultTimeout(20000);

    // The page's files and its headers.
    await step('the page and its headers', async () => {
        const res = await page.goto(`${ROOT}/`);
        const hd = res.headers();
        eq('/ answers 200 text/html', [200, 'text/html; charset=utf-8'], [res.status(), hd['content-type']]);
        const csp = hd['content-security-policy'] || '';
        check("CSP: default-src 'self', no inline, no eval, no frames",
            csp.includes("default-src 'self'") && csp.includes("frame-ancestors 'none'") && !csp.includes('unsafe'), csp);
        eq('nosniff', 'nosniff', hd['x-content-type-options']);
    });

    // 1. The token: one password field; a wrong one is refused.
    await step('token prompt', async () => {
        const field = page.locator('dialog input[type=password]');
        await field.waitFor();
        await shot(page, 'token');
        await field.fill('wrong');
        await field.press('Enter');
        await page.locator('dialog', { hasText: 'refused that token' }).waitFor();
        pass('a wrong token is refused and asked again');
        await page.locator('dialog input[type=password]').fill(TOKEN);
        await page.locator('dialog input[type=password]').press('Enter');
        await page.locator('table.runs').waitFor();
        pass('the token opens the run list');
        const stored = await page.evaluate(() => [sessionStorage.getItem('gitweave.token'), localStorage.length, location.href]);
        eq('the token is in sessionStorage only, not in the address', [TOKEN, 0, `${ROOT}/`], stored);
    });

    // 2. A new run appears in the list without a reload.
    let slowRun;
    await step('the run list gains a new run live', async () => {
        await page.evaluate(() => { window.__noReload = 1; });
        slowRun = (await api.post('/repos/webapp/pipelines/run', { template: 'slow' })).id;
        await page.locator(`tr[data-run="${slowRun}"]`).waitFor();
        eq('the new run is in the list, without a reload', 1, await page.evaluate(() => window.__noReload));
    });

    // 3. Its lines appear live, in colour.
    await step('a running job shows its lines live and in colour', async () => {
        await page.locator(`tr[data-run="${slowRun}"] a[href="/runs/${slowRun}"]`).click();
        await page.waitForURL(`${ROOT}/runs/${slowRun}`);
        await page.locator('.ln-text', { hasText: 'red line 3' }).waitFor();
        const n1 = await page.evaluate(() => document.querySelectorAll('.ln').length);
        await page.locator('.ln-text', { hasText: 'red line 12' }).waitFor();
        const red = await page.locator('.ln-text span.a-f1', { hasText: 'red line 12' }).count();
        eq('a line printed in red is red (SGR 31)', 1, red);
        check('lines keep coming without a reload', n1 >= 3 && await page.evaluate(() => window.__noReload) === 1);
        check('the view follows the end', await page.evaluate(() => {
            const s = document.querySelector('.log-scroll');
            return s.scrollTop + s.clientHeight >= s.scrollHeight - 20;
        }));
        await shot(page, 'run-live');
    });

    // 4. Cancel, with a confirmation.
    await step('cancel asks and cancels', async () => {
        await page.getByRole('button', { name: 'Cancel', exact: true }).click();
        const dlg = page.locator('dialog.dlg');
        await dlg.waitFor();
        await dlg.getByRole('button', { name: 'Keep it' }).click();
        await sleep(300);
        eq('"Keep it" keeps the run going', 'running', (await api.get(`/pipelines/runs/${slowRun}`)).status);
        await page.getByRole('button', { name: 'Cancel', exact: true }).click();
        await page.locator('dialog.dlg').getByRole('button', { name: 'Cancel the run' }).click();
        await page.locator('.run-head .badge', { hasText: 'canceled' }).first().waitFor({ timeout: 30000 });
        eq('the run is canceled', 'canceled', (await api.get(`/pipelines/runs/${slowRun}`)).status);
        await page.locator('.log-state .badge', { hasText: 'canceled' }).waitFor();
        pass("the job's state above its log follows too");
    });

    // 5. Rerun, with a confirmation: a new run that points back.
    await step('rerun asks and starts a new run', async () => {
        await page.getByRole('button', { name: /Rerun/ }).click();
        await page.locator('dialog.dlg').getByRole('button', { name: 'Rerun' }).click();
        await page.waitForURL((u) => /\/runs\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(slowRun));
        const newId = page.url().split('/').pop();
        await page.locator(`.meta a[href="/runs/${slowRun}"]`).waitFor();
        eq('the new run is a rerun of the old one', slowRun, (await api.get(`/pipelines/runs/${newId}`)).rerun_of);
        await api.post(`/pipelines/runs/${newId}/cancel`);
    });

    // 6. A failed run: the failing step is open and marked, #L{n}, search.
    let uiRun;
    await step('a failed step is expanded and marked', async () => {
        uiRun = (await api.post('/repos/webapp/pipelines/run', {
            template: 'ui', ref: 'refs/heads/feature/login', commit: '3f9c2e17a4b8d605', inputs: { MSG: '<b>bold?</b>' },
        })).id;
        const done = await api.waitRun(uiRun, (r) => ['success', 'failed', 'canceled'].includes(r.status));
        eq('the ui run failed', 'failed', done.status);
        await page.goto(`${ROOT}/runs/${uiRun}`);
        const testJob = done.jobs.find((j) => j.name === 'test');
        await page.locator('.job-link[aria-current="page"]', { hasText: 'test' }).waitFor();
        pass('the first failed job is shown by default');
        const failed = page.locator('.ln-step-failed');
        await failed.waitFor();
        eq('the marked step is the failing one', '$ exit 3', (await failed.locator('.ln-text').textContent()).trim());
        eq('it is expanded', 'true', await failed.locator('.ln-fold').getAttribute('aria-expanded'));
        check('it says so in words', (await failed.textContent()).includes('failed here'));
        const first = page.locator('.ln-step', { hasText: '$ echo running tests' });
        eq('the steps before it are folded', 'false', await first.locator('.ln-fold').getAttribute('aria-expanded'));
        await shot(page, 'run-failed');
        await first.locator('.ln-fold').click();
        await page.locator('.ln-text', { hasText: /^running tests$/ }).waitFor();
        pass('a folded step unfolds');
        eq('a skipped job says so', 1, await page.locator(`.job-link:has-text("deploy") .badge.st-skipped`).count());
        check('the job id is known', !!testJob);
    });

    await step('colours and text of the build job', async () => {
        await page.locator('.job-link', { hasText: 'build' }).click();
        await page.locator('.ln-text', { hasText: /^green bold/ }).waitFor();
        eq('16 colours and bold', 1, await page.locator('.ln-text span.a-f2.a-b', { hasText: 'green bold' }).count());
        const colours = await page.evaluate(() => [...document.querySelectorAll('.ln-text span')]
            .filter((s) => s.style.color).map((s) => [s.textContent, s.style.color]));
        eq('256 and 24-bit colours', [['orange', 'rgb(255, 135, 0)'], ['truecolor', 'rgb(10, 20, 200)']], colours);
        check('the input with markup is text', await page.locator('.ln-text', { hasText: 'msg=<b>bold?</b> count=3' }).count() === 1);
        const [tab] = await Promise.all([ctx.waitForEvent('page'), page.getByRole('link', { name: 'Raw log' }).click()]);
        await tab.waitForURL(/^blob:/);
        await tab.waitForFunction(() => document.body && document.body.textContent.includes('msg=<b>bold?</b>'));
        check('Raw log opens the text, fetched with the token (a blob: address, no token in it)', !tab.url().includes(TOKEN));
        await tab.close();
        eq('other control sequences are dropped', 1, await page.locator('.ln-text', { hasText: /^green bold orange truecolor plain$/ }).count());
    });

    await step('#L{n} after a reload', async () => {
        await page.locator('.ln-num[data-line="3"]').click();
        check('a line number link sets #L3', page.url().endsWith('#L3'), page.url());
        await page.reload();
        await page.locator('.ln-target .ln-num[data-line="3"]').waitFor();
        const inView = await page.evaluate(() => {
            const r = document.querySelector('.ln-target').getBoundingClientRect();
            const s = document.querySelector('.log-scroll').getBoundingClientRect();
            return r.top >= s.top && r.bottom <= s.bottom;
        });
        check('after a reload, line 3 is highlighted and on screen', inView);
    });

    await step('log search', async () => {
        await page.goto(`${ROOT}/runs/${slowRun}`);
        await page.locator('.ln-text', { hasText: /^red line \d+$/ }).first().waitFor();
        const search = page.getByRole('searchbox', { name: 'Search the log' });
        await page.locator('.log-scroll').focus();
        await page.keyboard.press('/');
        check('"/" goes to the search field', await search.evaluate((e) => e === document.activeElement));
        await search.fill('red line 1');
        await search.press('Enter');
        await page.locator('.log-count', { hasText: /^1 of \d+$/ }).waitFor();
        const count = await page.locator('.log-count').textContent();
        const total = Number(count.split(' of ')[1]);
        check('the count of matches', total >= 2, count);
        await page.getByRole('button', { name: 'next match' }).click();
        eq('next goes to match 2', `2 of ${total}`, await page.locator('.log-count').textContent());
        await page.getByRole('button', { name: 'previous match' }).click();
        eq('previous goes back', `1 of ${total}`, await page.locator('.log-count').textContent());
        check('matches are marked', await page.locator('.ln mark.mark-current').count() === 1);
        await search.fill('no such text');
        await page.locator('.log-count', { hasText: 'no match' }).waitFor();
        pass('no match says so');
    });

    // 7. The input form: the API's validation error beside its field.
    await step('the input form shows the API validation error', async () => {
        await page.goto(`${ROOT}/repos/webapp`);
        const form = page.locator('form.run-form', { hasText: 'Run ui' });
        await form.waitFor();
        eq('defaults are filled in', ['hello', '3', 'fast'], [
            await form.locator('input[name=MSG]').inputValue(),
            await form.locator('input[name=COUNT]').inputValue(),
            await form.locator('select[name=MODE]').inputValue()]);
        await form.locator('input[name=COUNT]').fill('many');
        await form.getByRole('button', { name: 'Run ui' }).click();
        const err = form.locator('.field[data-field="inputs.COUNT"] .field-error');
        await err.waitFor();
        check("the API's error is next to the field", /number/.test(await err.textContent()), await err.textContent());
        eq('the field is marked invalid', 'true', await form.locator('input[name=COUNT]').getAttribute('aria-invalid'));
        await shot(page, 'repo');
        await form.locator('input[name=COUNT]').fill('7');
        await form.getByRole('button', { name: 'Run ui' }).click();
        await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        const id = page.url().split('/').pop();
        eq('a valid form starts a run', '7', (await api.get(`/pipelines/runs/${id}`)).inputs.COUNT);
    });

    // 8. Runners: pause and resume.
    await step('runner pause and resume', async () => {
        await page.goto(`${ROOT}/runners`);
        const row = page.locator('tr[data-runner="w-ui"]');
        await row.waitFor();
        await row.getByRole('button', { name: /Pause/ }).click();
        await row.getByRole('button', { name: /Resume/ }).waitFor();
        const r1 = (await api.get('/runners')).runners.find((r) => r.name === 'w-ui');
        eq('paused in the API', true, r1.paused);
        check('paused on the page, in words', (await row.textContent()).includes('paused'));
        await shot(page, 'runners');
        await row.getByRole('button', { name: /Resume/ }).click();
        await row.getByRole('button', { name: /Pause/ }).waitFor();
        eq('resumed in the API', false, (await api.get('/runners')).runners.find((r) => r.name === 'w-ui').paused);
    });

    // 8b. A queued run says why it waits.
    await step('a queued run says why it waits', async () => {
        const gr = (await api.post('/repos/webapp/pipelines/run', { template: 'gpu' })).id;
        await page.goto(`${ROOT}/runs/${gr}`);
        const note = page.locator('.run-head .waiting');
        await note.waitFor();
        eq('in words, with its place in the queue', 'Waiting: no runner has the labels gpu (position 1 in its queue)',
            await note.textContent());
        await api.post(`/pipelines/runs/${gr}/cancel`);
        await note.waitFor({ state: 'detached' });
        pass('the note goes once the run is no longer queued');
    });

    // 9. XSS attempts run nothing.
    await step('XSS attempts execute nothing', async () => {
        const xr = (await api.post('/repos/evil/pipelines/run', { template: 'xss' })).id;
        await api.waitRun(xr, (r) => r.status === 'success');
        await page.goto(`${ROOT}/runs/${xr}`);
        await page.locator('.ln-text', { hasText: 'v=<img src=x onerror=alert(2)>' }).waitFor();
        const text = await page.locator('.log').textContent();
        check('the job\'s markup is shown as text', text.includes('<script>alert(1)</script>') && text.includes('<img src=x onerror=alert(1)>'));
        check('the OSC 8 link is text, not a link', text.includes('click me') && await page.locator('a[href^="javascript"]').count() === 0);
        eq('the OSC title and screen clear are dropped', 1, await page.locator('.ln-text', { hasText: /^after clear$/ }).count());
        await page.goto(`${ROOT}/repos/evil`);
        const form = page.locator('form.run-form', { hasText: 'Run xss' });
        await form.waitFor();
        eq('an input default with markup is the field\'s value', '<img src=x onerror=alert(2)>', await form.locator('input[name=V]').inputValue());
        check('a description with markup is text', (await form.textContent()).includes('<b id=injected onmouseover=alert(3)>desc</b>'));
        const injected = await page.evaluate(() => [document.querySelectorAll('img').length,
            document.querySelectorAll('script').length, !!document.getElementById('injected')]);
        eq('no injected element', [0, 1, false], injected);
        const tt = await page.evaluate(() => {
            try {
                document.body.insertAdjacentHTML('beforeend', '<i>x</i>');
                return 'allowed';
            } catch (e) {
                return 'refused';
            }
        });
        eq('HTML from a string is refused (Trusted Types)', 'refused', tt);
        seen.errors = seen.errors.filter((e) => !e.includes("requires 'TrustedHTML' assignment"));
        eq('no dialog opened', [], seen.dialogs);
    });

    // 10. A 100,000-line log: the last line, few elements, to the top and back.
    await step('a 100,000-line log', async () => {
        const br = (await api.post('/repos/webapp/pipelines/run', { template: 'big' })).id;
        const done = await api.waitRun(br, (r) => r.status === 'success');
        const job = done.jobs.find((j) => j.name === 'big').id;
        psql(`INSERT INTO logs (job_id, "offset", chunk)
              SELECT '${job}', (SELECT coalesce(sum(octet_length(chunk)), 0) FROM logs WHERE job_id = '${job}') + c * 9900,
                     string_agg(format('line %s %s', lpad(n::text, 6, '0'), repeat('x', 86)) || E'\\n', '' ORDER BY n)
              FROM generate_series(1, 100000) n, LATERAL (SELECT (n - 1) / 100 AS c) x GROUP BY c`);
        await page.goto(`${ROOT}/runs/${br}`);
        await page.locator('.ln-text', { hasText: 'line 100000' }).waitFor();
        const counts = await page.evaluate(() => [document.querySelectorAll('.log *').length, document.querySelectorAll('*').length]);
        check('under 3,000 elements in the log view and the page', counts[0] < 3000 && counts[1] < 3000, JSON.stringify(counts));
        const lastVisible = await page.evaluate(() => {
            const el = [...document.querySelectorAll('.ln-text')].find((t) => t.textContent.startsWith('line 100000'));
            const r = el.getBoundingClientRect();
            const s = document.querySelector('.log-scroll').getBoundingClientRect();
            return r.top >= s.top && r.bottom <= s.bottom + 1;
        });
        check('the last line is on screen', lastVisible);
        await page.locator('.log-scroll').focus();
        await page.keyboard.press('Home');
        await page.locator('.ln-num[data-line="1"]').waitFor();
        pass('Home scrolls to the first line');
        await page.getByRole('button', { name: /Follow the log/ }).click();
        await page.locator('.ln-text', { hasText: 'line 100000' }).waitFor();
        pass('the follow button goes back to the end');
        const after = await page.evaluate(() => document.querySelectorAll('*').length);
        check('still under 3,000 elements', after < 3000, String(after));
    });

    // Without a token on the API, no prompt.
    await step('no token, no prompt', async () => {
        await page.goto(`${process.env.OPEN_ROOT}/`);
        await page.locator('table.runs tbody tr').first().waitFor();
        eq('the runs show without a prompt', 0, await page.locator('dialog').count());
    });

    // The API restarts: the page says so, opens its streams again and
    // reads what it missed.
    await step('the page comes back after the API restarts', async () => {
        await page.goto(`${ROOT}/`);
        await page.locator('table.runs tbody tr').first().waitFor();
        const before = seen.errors.length;
        process.kill(Number(process.env.GW_API_PID));
        await page.locator('#conn', { hasText: 'reconnecting' }).waitFor();
        pass('the header says it is reconnecting');
        const port = new URL(ROOT).port;
        const env = { ...process.env, GITWEAVE_API_ADDR: `127.0.0.1:${port}`, GITWEAVE_API_TOKEN: TOKEN };
        delete env.GITWEAVE_API_PORT_FILE;
        again = spawn(process.env.GW_API_BIN, [], {
            env,
            stdio: ['ignore', fs.openSync(process.env.GW_API_LOG, 'a'), fs.openSync(process.env.GW_API_LOG, 'a')],
        });
        fs.writeFileSync(`${process.env.GW_API_LOG}.pid`, String(again.pid)); // test_ui.sh stops it too
        for (let i = 0; i < 100; i++) {
            try {
                await api.get('/healthz');
                break;
            } catch {
                await sleep(100);
            }
        }
        const id = (await api.post('/repos/webapp/pipelines/run', { template: 'big' })).id;
        await page.locator(`tr[data-run="${id}"]`).waitFor({ timeout: 30000 });
        pass('a run started after the restart appears without a reload');
        await page.waitForFunction(() => document.getElementById('conn').textContent === '');
        pass('the header no longer says it is reconnecting');
        // The page's attempts to reconnect while the API was down were
        // refused, as they should be; the browser logs each as an error (on a
        // loaded machine the restart is slow enough for one to be made).
        const refused = (e) => e.includes('net::ERR_CONNECTION_REFUSED');
        seen.errors = seen.errors.slice(0, before).concat(seen.errors.slice(before).filter((e) => !refused(e)));
    });

    // Screenshots of every page, dark and narrow too.
    await step('screenshots', async () => {
        await page.goto(`${ROOT}/`);
        await page.locator('table.runs tbody tr').first().waitFor();
        await shot(page, 'runs');
        await page.emulateMedia({ colorScheme: 'dark' });
        await page.goto(`${ROOT}/runs/${uiRun}`);
        await page.locator('.ln-step-failed').waitFor();
        await shot(page, 'run-dark');
        await page.emulateMedia({ colorScheme: 'light' });
        await page.setViewportSize({ width: 400, height: 800 });
        await page.goto(`${ROOT}/runs/${uiRun}`);
        await page.locator('.ln-step-failed').waitFor();
        await shot(page, 'run-narrow');
        await page.goto(`${ROOT}/`);
        await page.locator('table.runs tbody tr').first().waitFor();
        await shot(page, 'runs-narrow');
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        check('a narrow window does not scroll sideways', wide <= 400, String(wide));
        pass('screenshots taken');
    });

    eq('no error and no CSP refusal in the page', [], seen.errors);
    eq('no dialog in the whole test', [], seen.dialogs);
    await close();
}

main().then(() => process.exit(finish()), (e) => {
    fail('the browser test', String(e && e.stack || e));
    process.exit(finish());
});
