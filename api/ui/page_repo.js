// page_repo: "/repos/{repo}": each attached template with a form built
// from its typed inputs (defaults filled in) that starts a run, and the
// repo's recent runs. The API checks the values; its error is shown next
// to the field it names.

import { h } from './dom.js';
import * as api from './api.js';
import { runTable } from './page_runs.js';

let formSeq = 0;

function inputField(formId, name, decl, value) {
    const id = `${formId}-in-${name}`;
    const type = decl.type || 'string';
    let control;
    if (type === 'boolean') {
        control = h('select', { id, name },
            ...['true', 'false'].map((v) => h('option', { value: v, selected: String(value) === v }, v)));
    } else if (type === 'choice' && Array.isArray(decl.options)) {
        control = h('select', { id, name },
            ...decl.options.map((v) => h('option', { value: String(v), selected: String(value) === String(v) }, String(v))));
    } else {
        // Numbers are typed as text: the API is the one judge of a value.
        control = h('input', { id, name, type: 'text', value: value === undefined || value === null ? '' : String(value) });
        if (type === 'number')
            control.inputMode = 'decimal';
    }
    const err = h('p', { className: 'field-error', id: `${id}-err`, hidden: true });
    control.setAttribute('aria-describedby', `${id}-err`);
    return h('div', { className: 'field', dataset: { field: `inputs.${name}` } },
        h('label', { htmlFor: id }, name, decl.required ? h('span', { className: 'req', title: 'required' }, ' *') : null,
            h('span', { className: 'muted' }, ` (${type})`)),
        decl.description ? h('p', { className: 'hint' }, decl.description) : null,
        control, err);
}

function templateForm(ctx, repo, att, doc) {
    const formId = `tf${++formSeq}`;
    const declared = (doc && doc.inputs) || {};
    const fields = Object.entries(declared).map(([name, decl]) =>
        inputField(formId, name, decl || {}, att.inputs && name in att.inputs ? att.inputs[name] : decl?.default));
    const refId = `${formId}-ref`;
    const formError = h('p', { className: 'alert', hidden: true, attrs: { role: 'alert' } });
    const submit = h('button', { type: 'submit', className: 'btn btn-primary' }, `▶ Run ${att.name}`);
    const form = h('form', { className: 'run-form', noValidate: true, attrs: { 'aria-label': `Run ${att.name}` } },
        h('h3', null, att.name, h('span', { className: 'muted' }, ` ${att.kind} · v${att.version}`)),
        h('div', { className: 'field', dataset: { field: 'ref' } },
            h('label', { htmlFor: refId }, 'Ref'),
            h('input', { id: refId, name: 'ref', type: 'text', placeholder: `refs/heads/${repo.default_branch}` }),
            h('p', { className: 'field-error', hidden: true })),
        ...fields, formError, h('div', { className: 'form-buttons' }, submit));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        for (const e of form.querySelectorAll('.field-error')) {
            e.hidden = true;
            e.textContent = '';
        }
        for (const c of form.querySelectorAll('[aria-invalid]'))
            c.removeAttribute('aria-invalid');
        formError.hidden = true;
        const body = { template: att.name, inputs: {} };
        const ref = form.elements.ref.value.trim();
        if (ref)
            body.ref = ref;
        for (const name of Object.keys(declared))
            body.inputs[name] = form.elements[name].value;
        submit.disabled = true;
        try {
            const runRes = await api.post(`/repos/${encodeURIComponent(repo.name)}/pipelines/run`, body);
            ctx.navigate(`/runs/${runRes.id}`);
        } catch (e) {
            const field = e.body?.field || (/^(inputs\.[^:]+):/.exec(e.body?.detail || '') || [])[1];
            const box = field && form.querySelector(`.field[data-field="${CSS.escape(field)}"]`);
            if (box) {
                const err = box.querySelector('.field-error');
                err.textContent = e.body.detail || e.message;
                err.hidden = false;
                const control = box.querySelector('input, select');
                control.setAttribute('aria-invalid', 'true');
                control.focus();
            } else {
                formError.textContent = e.body?.detail || e.message;
                formError.hidden = false;
            }
        } finally {
            submit.disabled = false;
        }
    });
    return form;
}

export function repoPage(ctx) {
    const name = ctx.params.repo;
    const head = h('div', { className: 'page-head' }, h('h1', null, name));
    const forms = h('section', { className: 'forms', attrs: { 'aria-label': 'Templates' } });
    const table = runTable({ filter: { repo: name }, pageHref: (b) => (b ? `/?repo=${encodeURIComponent(name)}&before=${encodeURIComponent(b)}` : `/?repo=${encodeURIComponent(name)}`), title: `Runs of ${name}` });
    ctx.main.append(head, forms, h('h2', null, 'Recent runs'), table.el);
    document.title = `${name} · GitWeave`;
    (async () => {
        try {
            const repo = await api.get(`/repos/${encodeURIComponent(name)}`);
            head.append(h('p', { className: 'muted' }, repo.clone_url ? `clones ${repo.clone_url}` : 'no clone URL',
                ` · default branch ${repo.default_branch}`));
            const { templates } = await api.get(`/repos/${encodeURIComponent(name)}/templates`);
            if (!templates.length) {
                forms.append(h('p', { className: 'muted' }, 'No template is attached to this repo.'));
                return;
            }
            forms.append(h('h2', null, 'Run a template'));
            const docs = await Promise.all(templates.map((t) =>
                api.get(`/templates/${encodeURIComponent(t.name)}`).then((x) => x.document).catch(() => null)));
            templates.forEach((t, i) => forms.append(templateForm(ctx, repo, t, docs[i])));
        } catch (e) {
            forms.append(h('p', { className: 'alert' }, e.message));
        }
    })();
    return { dispose: table.dispose };
}
