// The dashboard's style sheet: light and dark, no external font or asset.
export const DASHBOARD_STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1d2330; --muted: #5d6677; --line: #dde2ea; --card: #f7f9fc;
  --accent: #2d5bd3; --queued: #8a6d00; --running: #2d5bd3; --succeeded: #1f7a4d; --failed: #b3261e; --canceled: #6b7280; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171d; --fg: #e4e8ef; --muted: #9aa4b5; --line: #2c323d;
  --card: #1b1f27; --accent: #7aa2ff; --queued: #e0c04f; --running: #7aa2ff; --succeeded: #5fd39a; --failed: #ff8a80; --canceled: #9ca3af; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
code, pre, input, select { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.top { display: flex; gap: 12px; align-items: center; padding: 10px 20px; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: var(--bg); z-index: 2; }
.brand { font-weight: 700; font-size: 18px; text-decoration: none; color: var(--fg); }
.spacer { flex: 1; }
.muted { color: var(--muted); }
.small { font-size: 12px; margin: 2px 0 6px; }
.error { color: var(--failed); }
main { padding: 12px 20px 60px; max-width: 1280px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card h2 { margin: 0; font-size: 16px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0 0; }
.chip { text-decoration: none; border: 1px solid var(--line); border-radius: 12px; padding: 1px 9px; color: var(--fg); background: var(--bg); }
.chip .count { font-weight: 700; }
.chip.queued .count { color: var(--queued); } .chip.running .count { color: var(--running); }
.chip.succeeded .count { color: var(--succeeded); } .chip.failed .count { color: var(--failed); } .chip.canceled .count { color: var(--canceled); }
.chart { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--line); }
.chart rect.succeeded { fill: var(--succeeded); } .chart rect.failed { fill: var(--failed); } .chart rect.canceled { fill: var(--canceled); }
.chart .rate-line { fill: none; stroke: var(--failed); stroke-width: 1.5; stroke-dasharray: 4 3; }
.chart .tick { font-size: 10px; fill: var(--muted); } .chart .tick.end { text-anchor: end; }
.figures { display: grid; grid-template-columns: max-content 1fr; gap: 0 12px; margin: 6px 0 0; }
.figures dt { color: var(--muted); } .figures dd { margin: 0; }
.list h2 { font-size: 16px; margin: 20px 0 6px; }
.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; margin-bottom: 8px; }
button, .button { font: inherit; padding: 3px 12px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; }
.button.secondary { background: transparent; color: var(--accent); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; color: #fff; font-size: 12px; background: var(--canceled); }
.badge.queued { background: var(--queued); } .badge.running { background: var(--running); }
.badge.succeeded { background: var(--succeeded); } .badge.failed { background: var(--failed); }
.pager { display: flex; gap: 12px; align-items: center; margin: 10px 0; }
.job-page h2 { font-size: 18px; margin: 10px 0 4px; }
.job-head { margin: 4px 0 10px; }
.progress { display: flex; gap: 10px; align-items: center; }
.bar { width: 320px; height: 12px; border-radius: 6px; background: var(--line); overflow: hidden; }
.bar .fill { height: 100%; background: var(--running); transition: width .3s; }
.bar.succeeded .fill { background: var(--succeeded); } .bar.failed .fill { background: var(--failed); } .bar.canceled .fill { background: var(--canceled); }
.actions { display: flex; gap: 8px; margin: 12px 0; }
.actions button:empty { display: none; }
.details .times { width: auto; margin-bottom: 8px; }
.block h3 { font-size: 14px; margin: 12px 0 4px; }
pre { background: var(--card); border: 1px solid var(--line); padding: 8px; border-radius: 6px; overflow: auto; max-height: 360px; white-space: pre-wrap; word-break: break-word; margin: 0; }
`;
