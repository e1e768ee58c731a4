// openapi_check - the checks of docs/openapi.yaml against the API:
//
//   node openapi_check.js routes OPENAPI ROUTES
//     ROUTES is gw_routes' output ("METHOD PATTERN" lines): every route served
//     must be an operation of the file and every operation a route served.
//   node openapi_check.js replies OPENAPI CAPTURES
//     CAPTURES holds one JSON object a line, {method, path, status,
//     content_type, body_file}: each reply must be a response the file
//     declares for its operation, with that media type, and a JSON body must
//     validate against the response's schema.
//
// Prints one line per problem and exits 1 if there is any.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const [mode, specFile, dataFile] = process.argv.slice(2);
const spec = yaml.load(fs.readFileSync(specFile, 'utf8'));
const problems = [];

function operations() {
  const ops = [];
  for (const [p, item] of Object.entries(spec.paths))
    for (const m of METHODS)
      if (item[m]) ops.push({ key: `${m.toUpperCase()} ${p}`, path: p, method: m, op: item[m] });
  return ops;
}

function checkRoutes() {
  const served = new Set(fs.readFileSync(dataFile, 'utf8').split('\n').filter(Boolean));
  const described = new Set(operations().map((o) => o.key));
  for (const r of served) if (!described.has(r)) problems.push(`served but not in the file: ${r}`);
  for (const d of described) if (!served.has(d)) problems.push(`in the file but not served: ${d}`);
  console.log(`${served.size} routes served, ${described.size} operations described`);
}

// The operation whose path template matches a concrete path (literal
// segments win over parameters, as in the router's table order).
function findOperation(method, urlPath) {
  const segs = urlPath.split('/');
  let best = null;
  for (const o of operations()) {
    if (o.method !== method.toLowerCase()) continue;
    const t = o.path.split('/');
    if (t.length !== segs.length) continue;
    let literal = 0, ok = true;
    for (let i = 0; i < t.length && ok; i++) {
      if (/^\{.*\}$/.test(t[i])) ok = segs[i] !== '';
      else if (t[i] === segs[i]) literal++;
      else ok = false;
    }
    if (ok && (best === null || literal > best.literal)) best = { o, literal };
  }
  return best && best.o;
}

function checkReplies() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(spec, 'openapi.json');
  const ptr = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const lines = fs.readFileSync(dataFile, 'utf8').split('\n').filter(Boolean);
  const seen = new Set();
  for (const line of lines) {
    const c = JSON.parse(line);
    const where = `${c.method} ${c.path} -> ${c.status}`;
    const u = new URL(c.path, 'http://x');
    const found = findOperation(c.method, u.pathname);
    if (!found) { problems.push(`${where}: no operation in the file`); continue; }
    const status = String(c.status);
    const res = found.op.responses[status];
    if (!res) { problems.push(`${where}: status ${status} not declared`); continue; }
    seen.add(`${found.key} ${status}`);
    const media = (c.content_type || '').split(';')[0].trim();
    const resolved = res.$ref ? res.$ref.replace('#/components/responses/', '') : null;
    const body = resolved ? spec.components.responses[resolved] : res;
    const content = body.content || {};
    if (media === '' || status === '204') {
      if (Object.keys(content).length > 0 && status !== '204')
        problems.push(`${where}: no body, but the file declares ${Object.keys(content)}`);
      continue;
    }
    if (!content[media]) {
      problems.push(`${where}: media type ${media} not declared (${Object.keys(content)})`);
      continue;
    }
    if (media !== 'application/json') continue;
    const base = resolved
      ? `openapi.json#/components/responses/${ptr(resolved)}`
      : `openapi.json#/paths/${ptr(found.path)}/${found.method}/responses/${status}`;
    const validate = ajv.compile({ $ref: `${base}/content/${ptr(media)}/schema` });
    const data = JSON.parse(fs.readFileSync(c.body_file, 'utf8'));
    if (!validate(data))
      problems.push(`${where}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(data).slice(0, 300)}`);
  }
  console.log(`${lines.length} replies checked, ${seen.size} (operation, status) pairs`);
}

if (mode === 'routes') checkRoutes();
else if (mode === 'replies') checkReplies();
else { console.error('usage: openapi_check.js routes|replies OPENAPI FILE'); process.exit(2); }
for (const p of problems) console.log(`problem: ${p}`);
process.exit(problems.length ? 1 : 0);
