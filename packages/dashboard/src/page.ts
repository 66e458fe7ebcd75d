/** The dashboard's page: a shell that its script (served by the package, like its style sheet) fills in. */
export function dashboardPage(options: {
  title: string;
  /** The dashboard's own path, ending with `/`: the page's assets and API are below it. */
  base: string;
  config: Record<string, unknown>;
}): string {
  // JSON in a script element: `<` escaped so that no value can end the element. No <base> element: it would make
  // the page's `#/…` links point at another document.
  const config = JSON.stringify({ ...options.config, base: options.base }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${escapeHtml(options.base)}assets/dashboard.css">
<title>${escapeHtml(options.title)} – dashboard</title>
</head>
<body>
<script type="application/json" id="dashboard-config">${config}</script>
<header class="top"><a class="brand" href="#/">${escapeHtml(options.title)}</a><span class="muted" id="who"></span>
<span class="spacer"></span><span class="muted" id="updated"></span></header>
<main id="main"><p class="muted">Loading…</p></main>
<script src="${escapeHtml(options.base)}assets/dashboard.js" defer></script>
</body>
</html>`;
}

export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char,
  );
}
