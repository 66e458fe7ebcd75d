/**
 * A self-contained interactive API reference: one HTML page with inline CSS and JS, no external assets
 * (it works offline and on every runtime). It loads the OpenAPI document, lists the operations with their
 * parameters, headers, schemas and problem responses, and has a "try it" form per operation (fetch, with
 * the headers you set, e.g. an owner or Authorization header), a streaming view for Server-Sent Events,
 * and the equivalent curl command.
 */
export function referencePage(options: { title: string; specUrl: string }): string {
  const config = JSON.stringify({ specUrl: options.specUrl }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} – API reference</title>
<style>${STYLE}</style>
</head>
<body>
<script type="application/json" id="jobs-config">${config}</script>
<header class="top"><div><h1 id="title">${escapeHtml(options.title)}</h1><span id="version"></span></div>
<div class="top-links"><a id="spec-link" href="#">openapi.json</a></div></header>
<div class="layout">
<nav id="nav" aria-label="Operations"></nav>
<main id="main">
<section class="card" id="settings">
<h2>Request settings</h2>
<p>Headers sent with every "Send" below, one <code>Name: value</code> per line (for example an
<code>Authorization</code> header, or the header your owner hook reads). Stored in this browser only.</p>
<textarea id="global-headers" rows="3" spellcheck="false" placeholder="X-Tenant: alice"></textarea>
</section>
<div id="intro" class="card"></div>
<div id="content"><p>Loading the OpenAPI document…</p></div>
</main>
</div>
<script>${SCRIPT}</script>
</body>
</html>`;
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char,
  );
}

const STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1d2330; --muted: #5d6677; --line: #dde2ea; --card: #f7f9fc;
  --accent: #2d5bd3; --get: #1f7a4d; --post: #2d5bd3; --delete: #b3261e; --code: #eef1f6; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171d; --fg: #e4e8ef; --muted: #9aa4b5; --line: #2c323d;
  --card: #1b1f27; --accent: #7aa2ff; --get: #5fd39a; --post: #7aa2ff; --delete: #ff8a80; --code: #232935; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
code, pre, textarea, input, select { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
code { background: var(--code); padding: 0 4px; border-radius: 3px; }
pre:empty { display: none; }
pre { background: var(--code); padding: 10px; border-radius: 6px; overflow: auto; max-height: 420px; margin: 6px 0; white-space: pre-wrap; word-break: break-word; }
a { color: var(--accent); }
.top { display: flex; justify-content: space-between; align-items: center; padding: 12px 24px; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: var(--bg); z-index: 2; }
.top h1 { display: inline; font-size: 20px; margin: 0 10px 0 0; }
#version { color: var(--muted); }
.layout { display: grid; grid-template-columns: 280px 1fr; }
nav { border-right: 1px solid var(--line); padding: 12px; position: sticky; top: 57px; height: calc(100vh - 57px); overflow: auto; }
nav h3 { font-size: 13px; text-transform: uppercase; color: var(--muted); margin: 14px 0 4px; }
nav a { display: block; padding: 2px 4px; text-decoration: none; color: var(--fg); font-size: 13px; border-radius: 4px; }
nav a:hover { background: var(--card); }
main { padding: 16px 24px 80px; min-width: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
.op h3 { margin: 0 0 4px; font-size: 16px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.method { font-weight: 700; font-size: 12px; padding: 2px 8px; border-radius: 4px; color: #fff; text-transform: uppercase; }
.method.get { background: var(--get); } .method.post { background: var(--post); } .method.delete { background: var(--delete); }
.path { font-family: ui-monospace, monospace; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 13px; }
td p { margin: 0; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 4px 6px; vertical-align: top; }
details > summary { cursor: pointer; }
.schema ul { list-style: none; padding-left: 16px; margin: 2px 0; border-left: 1px dashed var(--line); }
.schema li { margin: 2px 0; }
.prop { font-family: ui-monospace, monospace; font-weight: 600; }
.type { color: var(--accent); font-family: ui-monospace, monospace; }
.req { color: var(--delete); font-size: 11px; margin-left: 4px; }
.try { border-top: 1px solid var(--line); margin-top: 10px; padding-top: 8px; }
.try label { display: block; margin: 4px 0; }
.try label span { display: inline-block; min-width: 140px; font-family: ui-monospace, monospace; }
.try input, .try select { padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); width: min(420px, 100%); }
textarea { width: 100%; padding: 6px; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: 6px 14px; cursor: pointer; margin-right: 6px; }
button.secondary { background: var(--muted); }
.status-ok { color: var(--get); font-weight: 700; } .status-err { color: var(--delete); font-weight: 700; }
@media (max-width: 800px) { .layout { grid-template-columns: 1fr; } nav { position: static; height: auto; border-right: 0; } }
`;

// Plain ES2017 in a string: no backticks, no template placeholders.
const SCRIPT = `
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('jobs-config').textContent);
  var spec = null;
  var lastJobId = {};
  var headersBox = document.getElementById('global-headers');
  try { headersBox.value = localStorage.getItem('jobs-reference-headers') || ''; } catch (e) {}
  headersBox.addEventListener('input', function () {
    try { localStorage.setItem('jobs-reference-headers', headersBox.value); } catch (e) {}
  });
  document.getElementById('spec-link').href = config.specUrl;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else if (key === 'className') node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Renders text with \`code\` spans and blank-line paragraphs, without interpreting any HTML.
  function richText(text) {
    var wrap = el('div');
    String(text || '').split(/\\n\\s*\\n/).forEach(function (para) {
      var p = el('p');
      para.split('\\u0060').forEach(function (part, i) {
        p.appendChild(i % 2 ? el('code', { text: part }) : document.createTextNode(part));
      });
      wrap.appendChild(p);
    });
    return wrap;
  }

  function resolve(node) {
    var seen = 0;
    while (node && node.$ref && seen < 20) {
      var parts = node.$ref.replace(/^#\\//, '').split('/');
      var target = spec;
      parts.forEach(function (p) { target = target ? target[p.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined; });
      node = target;
      seen++;
    }
    return node || {};
  }
  function refName(node) { return node && node.$ref ? node.$ref.split('/').pop() : null; }

  function typeLabel(schema) {
    var name = refName(schema);
    var s = resolve(schema);
    var t = s.type;
    if (Array.isArray(t)) t = t.join(' | ');
    if (!t && s.enum) t = 'enum';
    if (!t && (s.anyOf || s.oneOf)) t = (s.anyOf || s.oneOf).map(typeLabel).join(' | ');
    if (!t && s.allOf) t = s.allOf.map(typeLabel).join(' & ');
    if (t === 'array' && s.items) t = 'array of ' + typeLabel(s.items);
    if (!t) t = 'any';
    if (s.format) t += ' (' + s.format + ')';
    return name ? name + (t === 'object' ? '' : ': ' + t) : t;
  }

  function constraints(s) {
    var out = [];
    ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern', 'default', 'const'].forEach(function (k) {
      if (s[k] !== undefined) out.push(k + ': ' + JSON.stringify(s[k]));
    });
    if (s.enum) out.push('one of ' + s.enum.map(function (v) { return JSON.stringify(v); }).join(', '));
    return out.join(' · ');
  }

  function schemaView(schema, depth, seen) {
    depth = depth || 0; seen = seen || [];
    var name = refName(schema);
    var s = resolve(schema);
    var box = el('div', { className: 'schema' });
    var head = el('div', null, [el('span', { className: 'type', text: typeLabel(schema) })]);
    var c = constraints(s);
    if (c) head.appendChild(el('span', { className: 'muted', text: '  ' + c }));
    box.appendChild(head);
    if (s.description) box.appendChild(el('div', { className: 'muted', text: s.description }));
    if (depth > 6 || (name && seen.indexOf(name) !== -1)) return box;
    var nextSeen = name ? seen.concat([name]) : seen;
    var list = el('ul');
    var props = s.properties || {};
    var required = s.required || [];
    Object.keys(props).forEach(function (key) {
      var p = props[key];
      var ps = resolve(p);
      var li = el('li', null, [el('span', { className: 'prop', text: key }),
        required.indexOf(key) !== -1 ? el('span', { className: 'req', text: 'required' }) : null, ' ']);
      var nested = ps.properties || (ps.items && resolve(ps.items).properties) || ps.anyOf || ps.oneOf || ps.allOf;
      if (nested) {
        var d = el('details', null, [el('summary', null, [el('span', { className: 'type', text: typeLabel(p) })])]);
        d.appendChild(schemaView(ps.items && !ps.properties ? ps.items : p, depth + 1, nextSeen));
        li.appendChild(d);
      } else {
        li.appendChild(el('span', { className: 'type', text: typeLabel(p) }));
        var pc = constraints(ps);
        if (pc) li.appendChild(el('span', { className: 'muted', text: '  ' + pc }));
        if (ps.description) li.appendChild(el('div', { className: 'muted', text: ps.description }));
      }
      list.appendChild(li);
    });
    ['anyOf', 'oneOf', 'allOf'].forEach(function (k) {
      if (!s[k]) return;
      s[k].forEach(function (alt) {
        var ra = resolve(alt);
        if (ra.type === 'null') return;
        list.appendChild(el('li', null, [el('span', { className: 'muted', text: k + ': ' }), schemaView(alt, depth + 1, nextSeen)]));
      });
    });
    if (s.additionalProperties && typeof s.additionalProperties === 'object' && Object.keys(s.additionalProperties).length) {
      list.appendChild(el('li', null, [el('span', { className: 'prop', text: '[key]' }), ' ', schemaView(s.additionalProperties, depth + 1, nextSeen)]));
    }
    if (list.childNodes.length) box.appendChild(list);
    return box;
  }

  function example(schema, depth) {
    depth = depth || 0;
    var s = resolve(schema);
    if (depth > 8) return null;
    if (s.examples && s.examples.length) return s.examples[0];
    if (s.example !== undefined) return s.example;
    if (s.default !== undefined) return s.default;
    if (s.const !== undefined) return s.const;
    if (s.enum && s.enum.length) return s.enum[0];
    var alts = s.anyOf || s.oneOf;
    if (alts) {
      var firstNonNull = alts.filter(function (a) { return resolve(a).type !== 'null'; })[0];
      return firstNonNull ? example(firstNonNull, depth + 1) : null;
    }
    if (s.allOf) {
      var merged = {};
      s.allOf.forEach(function (part) { var v = example(part, depth + 1); if (v && typeof v === 'object') Object.assign(merged, v); });
      return merged;
    }
    var type = Array.isArray(s.type) ? s.type.filter(function (t) { return t !== 'null'; })[0] : s.type;
    if (!type && s.properties) type = 'object';
    switch (type) {
      case 'object':
        var out = {};
        var req = s.required || [];
        var keys = Object.keys(s.properties || {});
        keys.filter(function (k) { return req.length === 0 || req.indexOf(k) !== -1; })
          .forEach(function (k) { out[k] = example(s.properties[k], depth + 1); });
        return out;
      case 'array':
        var n = s.minItems || 1;
        var items = [];
        for (var i = 0; i < Math.min(n, 3); i++) items.push(example(s.items || {}, depth + 1));
        return items;
      case 'integer':
      case 'number':
        if (s.minimum !== undefined) return s.minimum;
        if (s.exclusiveMinimum !== undefined) return s.exclusiveMinimum + 1;
        if (s.maximum !== undefined) return Math.min(0, s.maximum);
        return type === 'integer' ? 1 : 1.5;
      case 'boolean': return false;
      case 'string':
        if (s.format === 'date-time') return new Date().toISOString();
        if (s.format === 'date') return new Date().toISOString().slice(0, 10);
        if (s.format === 'email') return 'user@example.com';
        if (s.format === 'uri' || s.format === 'url') return 'https://example.com/';
        if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
        var str = 'string';
        if (s.minLength && s.minLength > str.length) str = new Array(s.minLength + 1).join('x');
        if (s.maxLength && s.maxLength < str.length) str = str.slice(0, s.maxLength);
        return str;
      case 'null': return null;
      default: return {};
    }
  }

  function parseHeaderLines(text) {
    var headers = {};
    String(text || '').split(/\\r?\\n/).forEach(function (line) {
      var i = line.indexOf(':');
      if (i > 0) {
        var name = line.slice(0, i).trim();
        var value = line.slice(i + 1).trim();
        if (name) headers[name] = value;
      }
    });
    return headers;
  }

  function shellQuote(value) { return "'" + String(value).replace(/'/g, "'\\\\''") + "'"; }

  function serverBase() {
    var server = (spec.servers && spec.servers[0] && spec.servers[0].url) || '';
    return server.replace(/\\/$/, '');
  }

  function renderOperation(path, method, op, pathParams) {
    var id = 'op-' + (op.operationId || (method + path).replace(/[^a-zA-Z0-9]/g, '-'));
    var card = el('section', { className: 'card op', id: id });
    card.appendChild(el('h3', null, [el('span', { className: 'method ' + method, text: method }), el('span', { className: 'path', text: path }), el('span', { className: 'muted', text: op.summary || '' })]));
    if (op.description) card.appendChild(richText(op.description));
    var params = (pathParams || []).concat(op.parameters || []).map(resolve);
    if (params.length) {
      var table = el('table', null, [el('tr', null, [el('th', { text: 'Parameter' }), el('th', { text: 'In' }), el('th', { text: 'Type' }), el('th', { text: 'Description' })])]);
      params.forEach(function (p) {
        table.appendChild(el('tr', null, [el('td', null, [el('code', { text: p.name }), p.required ? el('span', { className: 'req', text: 'required' }) : null]), el('td', { text: p.in }), el('td', { text: typeLabel(p.schema || {}) }), el('td', null, [richText(p.description || '')])]));
      });
      card.appendChild(table);
    }
    var bodySchema = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'] && op.requestBody.content['application/json'].schema;
    if (bodySchema) {
      var bd = el('details', { open: '' }, [el('summary', { text: 'Request body (application/json)' })]);
      bd.appendChild(schemaView(bodySchema));
      card.appendChild(bd);
    }
    var rd = el('details', null, [el('summary', { text: 'Responses' })]);
    var rt = el('table', null, [el('tr', null, [el('th', { text: 'Status' }), el('th', { text: 'Description' }), el('th', { text: 'Headers' }), el('th', { text: 'Body' })])]);
    Object.keys(op.responses || {}).forEach(function (code) {
      var r = resolve(op.responses[code]);
      var headerCell = el('td');
      Object.keys(r.headers || {}).forEach(function (h) {
        headerCell.appendChild(el('div', null, [el('code', { text: h })]));
      });
      var bodyCell = el('td');
      Object.keys(r.content || {}).forEach(function (type) {
        var d = el('details', null, [el('summary', { text: type })]);
        d.appendChild(schemaView(r.content[type].schema || {}));
        bodyCell.appendChild(d);
      });
      rt.appendChild(el('tr', null, [el('td', null, [el('code', { text: code })]), el('td', null, [richText(r.description || '')]), headerCell, bodyCell]));
    });
    rd.appendChild(rt);
    card.appendChild(rd);
    card.appendChild(tryIt(path, method, op, params, bodySchema));
    return card;
  }

  function tryIt(path, method, op, params, bodySchema) {
    var box = el('div', { className: 'try' });
    box.appendChild(el('strong', { text: 'Try it' }));
    var inputs = [];
    var tag = (op.tags || [])[0] || '';
    params.forEach(function (p) {
      var input;
      var schema = resolve(p.schema || {});
      if (schema.enum) {
        input = el('select', null, [el('option', { value: '', text: '' })].concat(schema.enum.map(function (v) { return el('option', { value: v, text: v }); })));
      } else {
        input = el('input', { type: 'text', placeholder: p.name === 'Prefer' ? 'wait=10' : '' });
      }
      if (p.in === 'path' && p.name === 'id') input.setAttribute('data-job-id', tag);
      inputs.push({ param: p, input: input });
      box.appendChild(el('label', null, [el('span', { text: p.name + (p.in === 'path' ? ' (path)' : p.in === 'query' ? ' (query)' : ' (header)') }), input]));
    });
    var body = null;
    if (bodySchema) {
      body = el('textarea', { rows: '6', spellcheck: 'false' });
      body.value = JSON.stringify(example(bodySchema), null, 2);
      box.appendChild(el('label', null, [el('span', { text: 'body (JSON)' })]));
      box.appendChild(body);
    }
    var isStream = op.responses && op.responses['200'] && resolve(op.responses['200']).content && resolve(op.responses['200']).content['text/event-stream'];
    var send = el('button', { type: 'button', text: isStream ? 'Open stream' : 'Send' });
    var stop = el('button', { type: 'button', className: 'secondary', text: 'Stop' });
    stop.style.display = 'none';
    var curl = el('pre', { className: 'muted' });
    var result = el('div');
    box.appendChild(el('div', { style: 'margin-top:6px' }, [send, stop]));
    box.appendChild(curl);
    box.appendChild(result);
    var controller = null;

    send.addEventListener('click', function () {
      var url = serverBase() + path;
      var query = [];
      var headers = parseHeaderLines(headersBox.value);
      var missing = [];
      inputs.forEach(function (entry) {
        var value = entry.input.value.trim();
        var p = entry.param;
        if (!value) { if (p.required) missing.push(p.name); return; }
        if (p.in === 'path') url = url.replace('{' + p.name + '}', encodeURIComponent(value));
        else if (p.in === 'query') query.push(encodeURIComponent(p.name) + '=' + encodeURIComponent(value));
        else if (p.in === 'header') headers[p.name] = value;
      });
      result.textContent = '';
      if (missing.length) { result.appendChild(el('p', { className: 'status-err', text: 'Missing: ' + missing.join(', ') })); return; }
      if (query.length) url += '?' + query.join('&');
      var init = { method: method.toUpperCase(), headers: headers };
      if (body) { headers['Content-Type'] = 'application/json'; init.body = body.value; }
      var full = new URL(url, location.href).href;
      var curlParts = ['curl -i ' + (isStream ? '-N ' : '') + '-X ' + init.method + ' ' + shellQuote(full)];
      Object.keys(headers).forEach(function (h) { curlParts.push('-H ' + shellQuote(h + ': ' + headers[h])); });
      if (init.body !== undefined) curlParts.push('--data ' + shellQuote(init.body));
      curl.textContent = curlParts.join(' \\\\\\n  ');
      controller = new AbortController();
      init.signal = controller.signal;
      stop.style.display = isStream ? '' : 'none';
      var started = Date.now();
      fetch(url, init).then(function (response) {
        var line = el('p', null, [el('span', { className: response.ok || response.status === 304 ? 'status-ok' : 'status-err', text: String(response.status) + ' ' + response.statusText }), ' ', el('span', { className: 'muted', text: (Date.now() - started) + ' ms' })]);
        result.appendChild(line);
        if (response.redirected) {
          result.appendChild(el('p', { className: 'muted', text: 'Followed a redirect (303) to ' + response.url }));
          var target = /\\/([a-z][a-z0-9_-]*)\\/([0-9a-f-]{36})\\/output$/.exec(new URL(response.url).pathname);
          if (target) rememberJob(target[1], target[2]);
        }
        var headerLines = [];
        response.headers.forEach(function (value, name) { headerLines.push(name + ': ' + value); });
        result.appendChild(el('pre', { text: headerLines.join('\\n') }));
        var out = el('pre');
        result.appendChild(out);
        if (isStream && response.body && response.ok) {
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          var pump = function () {
            return reader.read().then(function (chunk) {
              if (chunk.done) { out.textContent += '\\n[stream closed]'; stop.style.display = 'none'; return; }
              out.textContent += decoder.decode(chunk.value, { stream: true });
              out.scrollTop = out.scrollHeight;
              return pump();
            });
          };
          return pump();
        }
        return response.text().then(function (text) {
          try {
            var json = JSON.parse(text);
            out.textContent = JSON.stringify(json, null, 2);
            if (json && typeof json.id === 'string' && json.endpoint) rememberJob(json.endpoint, json.id);
          } catch (e) { out.textContent = text || '(empty body)'; }
        });
      }).catch(function (error) {
        if (error && error.name === 'AbortError') result.appendChild(el('p', { className: 'muted', text: 'Stopped.' }));
        else result.appendChild(el('p', { className: 'status-err', text: String(error) }));
      }).then(function () { stop.style.display = 'none'; });
    });
    stop.addEventListener('click', function () { if (controller) controller.abort(); });
    return box;
  }

  function rememberJob(tag, id) {
    lastJobId[tag] = id;
    Array.prototype.forEach.call(document.querySelectorAll('input[data-job-id]'), function (input) {
      if (input.getAttribute('data-job-id') === tag) input.value = id;
    });
  }

  function render(doc) {
    spec = doc;
    document.getElementById('title').textContent = doc.info.title;
    document.title = doc.info.title + ' – API reference';
    document.getElementById('version').textContent = 'v' + doc.info.version + ' · OpenAPI ' + doc.openapi;
    var intro = document.getElementById('intro');
    intro.appendChild(richText(doc.info.description || ''));
    intro.appendChild(el('p', { className: 'muted', text: 'Server: ' + (serverBase() || '/') }));
    var content = document.getElementById('content');
    var nav = document.getElementById('nav');
    content.textContent = '';
    var byTag = {};
    var order = (doc.tags || []).map(function (t) { return t.name; });
    Object.keys(doc.paths).forEach(function (path) {
      var item = doc.paths[path];
      ['post', 'get', 'delete', 'put', 'patch'].forEach(function (method) {
        var op = item[method];
        if (!op) return;
        var tag = (op.tags || ['default'])[0];
        if (order.indexOf(tag) === -1) order.push(tag);
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: method, op: op, params: item.parameters || [] });
      });
    });
    order.forEach(function (tag) {
      var ops = byTag[tag];
      if (!ops) return;
      var info = (doc.tags || []).filter(function (t) { return t.name === tag; })[0];
      var section = el('section', { id: 'tag-' + tag }, [el('h2', { text: tag })]);
      if (info && info.description) section.appendChild(richText(info.description));
      nav.appendChild(el('h3', { text: tag }));
      ops.forEach(function (entry) {
        var card = renderOperation(entry.path, entry.method, entry.op, entry.params);
        section.appendChild(card);
        var a = el('a', { href: '#' + card.id }, [el('span', { className: 'method ' + entry.method, text: entry.method }), ' ', entry.path]);
        nav.appendChild(a);
      });
      content.appendChild(section);
    });
    var schemas = el('section', { id: 'schemas' }, [el('h2', { text: 'Schemas' })]);
    nav.appendChild(el('h3', { text: 'Schemas' }));
    Object.keys((doc.components && doc.components.schemas) || {}).forEach(function (name) {
      var card = el('section', { className: 'card', id: 'schema-' + name }, [el('h3', { text: name })]);
      card.appendChild(schemaView({ $ref: '#/components/schemas/' + name }));
      schemas.appendChild(card);
      nav.appendChild(el('a', { href: '#schema-' + name, text: name }));
    });
    content.appendChild(schemas);
  }

  fetch(config.specUrl, { headers: { Accept: 'application/json' } })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(render)
    .catch(function (error) {
      document.getElementById('content').textContent = 'Could not load ' + config.specUrl + ': ' + error;
    });
})();
`;
