// The reference page's style sheet: light and dark, no external font or asset.
export const STYLE = `
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
.job-view { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0; background: var(--bg); }
.job-status { font-weight: 700; font-size: 12px; text-transform: uppercase; padding: 1px 8px; border-radius: 10px; background: var(--code); }
.job-running { background: var(--accent); color: #fff; } .job-succeeded { background: var(--get); color: #fff; }
.job-failed, .job-canceled { background: var(--delete); color: #fff; }
.job-line { display: flex; align-items: center; gap: 8px; margin: 6px 0 2px; }
.job-bar { flex: 0 0 min(320px, 60%); height: 14px; accent-color: var(--accent); }
@media (max-width: 800px) { .layout { grid-template-columns: 1fr; } nav { position: static; height: auto; border-right: 0; } }
`;
