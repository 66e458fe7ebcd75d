import { REFERENCE_SCRIPT } from './script.generated.js';
import { STYLE } from './style.js';

/**
 * A self-contained interactive API reference: one HTML page with inline CSS and JS, no external assets
 * (it works offline and on every runtime). It loads the OpenAPI document, lists the operations with their
 * parameters, headers, schemas and problem responses, and has a "try it" form per operation (fetch, with
 * the headers you set, e.g. an owner or Authorization header), a streaming view for Server-Sent Events,
 * and the equivalent curl command. The script is `./browser/main.ts`, bundled into `./script.generated.ts`.
 */
export function referencePage(options: { title: string; specUrl: string }): string {
  const config = JSON.stringify({ specUrl: options.specUrl }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
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
<script>${REFERENCE_SCRIPT}</script>
</body>
</html>`;
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char,
  );
}
