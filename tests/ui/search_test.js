// Log search in the web page, in a real headless Chromium against a real
// API, worker (local engine, retention 30 days) and Postgres, started by
// tests/integration/test_ui_search.sh: the search box of the run list and
// of the header, a match in one run of several, its link landing on the
// highlighted line of a log longer than a screen, a hostile line shown as
// text, filters and order kept in the address, "More", a regular
// expression's match marked and a refused one's reason in words, and a log
// removed by retention. Screenshots go to GW_UI_SHOTS.
'use strict';
const { execFileSync } = require('child_process');
const path = require('path');
const { launch, watch, pass, check, eq, step, finish, client, sleep } = require('./lib');

const ROOT = process.env.API_ROOT;
const TOKEN = process.env.TOKEN;
const SHOTS = process.env.GW_UI_SHOTS;
const api = client(ROOT, TOKEN);
const psql = (sql) => execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', process.env.DATABASE_URL, '-c', sql]).toString().trim();

const ESC = '\\033';
// The strings searched for are built by the shell, so the worker's echo of
// each step ("$ ...") does not hold them too.
const TEMPLATES = {
    quiet: { kind: 'test', jobs: [{ name: 'say', script: ['w=ordi; echo "${w}nary line"', 'echo "nothing to see"'] }] },
    big: { kind: 'test', jobs: [{ name: 'long', script: [
        'k=7; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); if [ $i = 2500 ]; then echo "error: needle-${k}c3 at row $i"; else echo "row $i"; fi; done',
    ] }] },
    evil: { kind: 'test', jobs: [{ name: 'evil', script: [
        `p=hostile; printf "\${p}-z1 <img src=x onerror=alert(1)> \\001\\002${ESC}[31mred${ESC}[0m ${ESC}]0;title\\007tail\\n"`,
        'exit 1',
    ] }] },
};

const shot = async (page, name) => {
    if (SHOTS)
        await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
};

async function runOf(repo, template) {
    const id = (await api.post(`/repos/${repo}/pipelines/run`, { template })).id;
    return api.waitRun(id, (r) => ['success', 'failed', 'canceled'].includes(r.status));
}

async function main() {
    for (const [name, doc] of Object.entries(TEMPLATES))
        await api.put(`/templates/${name}`, doc);
    for (const [repo, ts] of [['shop', ['quiet', 'big']], ['blog', ['quiet', 'evil']], ['old', ['quiet']]]) {
        await api.put(`/repos/${repo}`, { default_branch: 'main' });
        for (const t of ts)
            await api.put(`/repos/${repo}/templates/${t}`, {});
    }
    // Several runs; the needle is in one of them.
    const shopOld = await runOf('shop', 'quiet');
    await sleep(50);
    const shopNew = await runOf('shop', 'quiet');
    const big = await runOf('shop', 'big');
    await runOf('blog', 'quiet');
    const evil = await runOf('blog', 'evil');
    eq('the runs ended as their scripts say', ['success', 'success', 'success', 'failed'],
        [shopOld.status, shopNew.status, big.status, evil.status]);

    const { ctx, close } = await launch();
    const page = ctx.pages()[0] || await ctx.newPage();
    const seen = { dialogs: [], errors: [] };
    watch(page, seen);
    page.setDefaultTimeout(20000);

    await page.goto(`${ROOT}/`);
    await page.locator('dialog input[type=password]').fill(TOKEN);
    await page.locator('dialog input[type=password]').press('Enter');
    await page.locator('table.runs tbody tr').first().waitFor();

    // 1. The run list's box: one match among five runs.
    let hit;
    await step('a search from the run list finds the line in one run of several', async () => {
        const box = page.getByRole('searchbox', { name: 'Search the logs of every run' });
        await box.fill('needle-7c3');
        await box.press('Enter');
        await page.waitForURL(`${ROOT}/search?q=needle-7c3`);
        await page.locator('.search-note', { hasText: '1 line, newest first.' }).waitFor();
        eq('one group, one line', [1, 1], [await page.locator('.hit').count(), await page.locator('.hit-line').count()]);
        const head = await page.locator('.hit-head').textContent();
        check('the group says status, repo, template, ref, job and run',
            ['success', 'shop / big', 'on main', 'job long of run', big.id.slice(0, 8)].every((w) => head.includes(w)), head);
        check('nothing else is written on the page', !/null|undefined/.test(await page.locator('main').textContent()));
        eq('the match is marked', ['needle-7c3'], await page.locator('.hit-text mark').allTextContents());
        hit = (await api.get('/logs/search?q=needle-7c3')).matches[0];
        eq('the link goes to its line', `/runs/${big.id}/jobs/${big.jobs[0].id}#L${hit.line}`,
            await page.locator('.hit-line').getAttribute('href'));
        eq('the header box shows the search', 'needle-7c3', await page.locator('#top-q').inputValue());
    });

    // 2. The link lands on the line, highlighted, in a log of 3,000 lines.
    await step('the link lands on the highlighted line', async () => {
        await page.locator('.hit-line').click();
        await page.waitForURL(`${ROOT}/runs/${big.id}/jobs/${big.jobs[0].id}#L${hit.line}`);
        const target = page.locator('.ln-target');
        await target.waitFor();
        eq('the highlighted line is the match', [String(hit.line), `error: needle-7c3 at row 2500`],
            [await target.locator('.ln-num').getAttribute('data-line'), await target.locator('.ln-text').textContent()]);
        check('far below the first screen', hit.line > 2000, String(hit.line));
        const place = await page.evaluate(() => {
            const r = document.querySelector('.ln-target').getBoundingClientRect();
            const s = document.querySelector('.log-scroll').getBoundingClientRect();
            return { inLog: r.top >= s.top && r.bottom <= s.bottom, inWindow: r.top >= 0 && r.bottom <= innerHeight };
        });
        eq('on screen, in the log and in the window', { inLog: true, inWindow: true }, place);
        await shot(page, 'search-target');
    });

    // 3. The header's box, from any page: a hostile line is text.
    await step('a hostile line is shown as text', async () => {
        await page.locator('#top-q').fill('hostile-z1');
        await page.locator('#top-q').press('Enter');
        await page.waitForURL(`${ROOT}/search?q=hostile-z1`);
        const line = page.locator('.hit-text');
        await line.waitFor();
        eq('markup as text, control bytes and the OSC title dropped, colour kept',
            'hostile-z1 <img src=x onerror=alert(1)> red tail', await line.textContent());
        eq('the SGR colour is a class', ['red'], await page.locator('.hit-text span.a-f1').allTextContents());
        eq('no element came from the line', [0, 0], await page.evaluate(() => [
            document.querySelectorAll('main img').length, document.querySelectorAll('.hit-text *:not(span):not(mark)').length]));
        check('the failed run says so', (await page.locator('.hit-head').textContent()).includes('failed'));
        eq('no dialog opened', [], seen.dialogs);
    });

    // 4. Filters and order live in the address; a reload keeps them.
    await step('filters and order are in the address', async () => {
        await page.goto(`${ROOT}/search?q=line`);
        await page.locator('.search-note', { hasText: 'newest first' }).waitFor();
        eq('a group for each job: the three quiet runs', 3, await page.locator('.hit').count());
        await shot(page, 'search');
        await page.goto(`${ROOT}/search?q=ordinary&repo=shop`);
        await page.locator('.search-note', { hasText: '2 lines' }).waitFor();
        eq('repo filter: the two shop runs, newest first', [shopNew.id, shopOld.id],
            await page.locator('.hit').evaluateAll((els) => els.map((e) => e.dataset.run)));
        eq('the form shows the repo', 'shop', await page.locator('#s-repo').inputValue());
        await page.getByLabel('Oldest first').check();
        await page.waitForURL(`${ROOT}/search?q=ordinary&repo=shop&order=oldest`);
        await page.locator('.search-note', { hasText: 'oldest first' }).waitFor();
        eq('oldest first', [shopOld.id, shopNew.id], await page.locator('.hit').evaluateAll((els) => els.map((e) => e.dataset.run)));
        await page.reload();
        await page.locator('.search-note', { hasText: 'oldest first' }).waitFor();
        eq('a reload keeps the search', [true, 'shop', 'ordinary'], [
            await page.getByLabel('Oldest first').isChecked(), await page.locator('#s-repo').inputValue(),
            await page.locator('#s-q').inputValue()]);
        await page.goto(`${ROOT}/search?q=hostile-z1&status=success`);
        await page.locator('.search-note', { hasText: 'No line matches.' }).waitFor();
        await page.locator('#s-status').selectOption('failed');
        await page.waitForURL(`${ROOT}/search?q=hostile-z1&status=failed`);
        await page.locator('.search-note', { hasText: '1 line' }).waitFor();
        pass('the status filter');
        await page.goBack();
        await page.locator('.search-note', { hasText: 'No line matches.' }).waitFor();
        pass('Back goes to the search before');
    });

    // 5. More: the next page with the cursor, in the same group.
    await step('"More" reads the next page', async () => {
        await page.goto(`${ROOT}/search?q=row&repo=shop`);
        await page.locator('.search-note', { hasText: '50 lines so far' }).waitFor();
        await page.getByRole('button', { name: 'More' }).click();
        await page.locator('.search-note', { hasText: '100 lines so far' }).waitFor();
        eq('100 lines, one job, one group', [100, 1], [await page.locator('.hit-line').count(), await page.locator('.hit').count()]);
        const lines = await page.locator('.hit-lines li').evaluateAll((els) => els.map((e) => Number(e.dataset.line)));
        check('newest first: line numbers go down without a repeat', lines.every((n, i) => i === 0 || n < lines[i - 1]), lines.join(','));
    });

    // 6. Regular expressions: a match marked; a refusal in words.
    await step('a regular expression', async () => {
        await page.goto(`${ROOT}/search?q=needle-%5B0-9a-f%5D%2Bc&re=true`);
        await page.locator('.hit-text mark').waitFor();
        eq('its match is marked', ['needle-7c'], await page.locator('.hit-text mark').allTextContents());
        eq('the box is ticked', true, await page.getByLabel('Regular expression').isChecked());
        await page.locator('#s-q').fill('(panic)');
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        await page.waitForURL(`${ROOT}/search?q=%28panic%29&re=true`);
        const err = page.locator('.alert[role=alert]');
        await err.waitFor();
        const said = await err.textContent();
        const detail = await fetch(`${ROOT}/api/v1/logs/search?q=(panic)&re=true`, { headers: { Authorization: `Bearer ${TOKEN}` } })
            .then(async (r) => [r.status, (await r.json()).detail]);
        eq('the API refuses it', 422, detail[0]);
        eq("the refusal in words, with the API's reason",
            `This regular expression cannot be searched. ${detail[1][0].toUpperCase()}${detail[1].slice(1)}`, said);
        eq('the field is marked', 'true', await page.locator('#s-q').getAttribute('aria-invalid'));
        eq('no results and no "More"', [0, false], [await page.locator('.hit').count(), await page.getByRole('button', { name: 'More' }).isVisible()]);
        await shot(page, 'search-error');
    });

    // 7. A log removed by retention says so on the job page.
    await step('a log removed after 30 days', async () => {
        const run = await runOf('old', 'quiet');
        psql(`UPDATE pipeline_runs SET created_at = now() - interval '40 days 1 min', started_at = now() - interval '40 days 30 s',
              ended_at = now() - interval '40 days' WHERE id = '${run.id}'`);
        const gone = await api.waitRun(run.id, (r) => r.logs_expired !== null, 30000);
        eq('the API marks it', 30, gone.logs_expired.after_days);
        for (let i = 0; i < 100 && psql(`SELECT count(*) FROM logs WHERE job_id = '${run.jobs[0].id}'`) !== '0'; i++)
            await sleep(100);
        await page.goto(`${ROOT}/runs/${run.id}/jobs/${run.jobs[0].id}`);
        const msg = page.locator('.log-empty');
        await msg.waitFor();
        check('the log says it was removed after 30 days, not that it is empty',
            /^Log removed after 30 days \(.+\): the run and its jobs are kept, their logs are not\.$/.test(await msg.textContent()),
            await msg.textContent());
        eq('no line shows', 0, await page.locator('.ln').count());
        eq('no search, fold or raw log tools for a log that is gone', false,
            await page.locator('.log-tools').isVisible());
        await shot(page, 'log-expired');
        await page.goto(`${ROOT}/search?q=ordinary&repo=old`);
        await page.locator('.search-note', { hasText: 'No line matches.' }).waitFor();
        pass('search finds nothing in it any more');
    });

    // 8. The empty search page and a narrow window.
    await step('the search page without a query, narrow', async () => {
        await page.setViewportSize({ width: 400, height: 800 });
        await page.goto(`${ROOT}/search?q=needle-7c3`);
        await page.locator('.hit-line').waitFor();
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        check('a narrow window does not scroll sideways', wide <= 400, String(wide));
        await shot(page, 'search-narrow');
        await page.setViewportSize({ width: 1280, height: 800 });
        await page.goto(`${ROOT}/search`);
        await page.locator('.search-note', { hasText: 'without regard to case' }).waitFor();
        check('the text field has focus', await page.locator('#s-q').evaluate((e) => e === document.activeElement));
        for (const where of ['/', '/runners', '/repos/shop', `/runs/${big.id}`]) {
            await page.goto(`${ROOT}${where}`);
            await page.getByRole('searchbox', { name: 'Search all logs' }).waitFor();
        }
        pass('every page has the search box in its header');
    });

    eq('no error and no CSP refusal in the page', [], seen.errors);
    eq('no dialog in the whole test', [], seen.dialogs);
    await close();
}

main().then(() => process.exit(finish()), (e) => {
    require('./lib').fail('the browser test', String(e && e.stack || e));
    process.exit(finish());
});
