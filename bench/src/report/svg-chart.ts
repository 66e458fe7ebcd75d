/**
 * A small SVG line chart, one or more panels side by side, written by our own code (no plotting
 * dependency). The x axis is logarithmic (base 2) when asked, which suits concurrency 1, 4, 16, 64.
 */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [x: number, y: number]>;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  series: readonly Series[];
}

const PANEL_WIDTH = 460;
const HEIGHT = 340;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };
const LEGEND_ROW = 18;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function lineChartSvg(title: string, panels: readonly Panel[]): string {
  const names = [...new Set(panels.flatMap((panel) => panel.series.map((series) => series.name)))];
  const legendHeight = names.length * LEGEND_ROW + 8;
  const width = PANEL_WIDTH * panels.length;
  const height = HEIGHT + legendHeight + 24;
  const color = (name: string) => COLORS[names.indexOf(name) % COLORS.length]!;
  const body = panels.map((panel, index) => panelSvg(panel, index * PANEL_WIDTH, 24, color)).join('\n');
  const legend = names
    .map((name, index) => {
      const y = 24 + HEIGHT + index * LEGEND_ROW + 12;
      return `<line x1="${MARGIN.left}" y1="${y - 4}" x2="${MARGIN.left + 24}" y2="${y - 4}" stroke="${color(name)}" stroke-width="2"/><text x="${MARGIN.left + 32}" y="${y}">${escapeXml(name)}</text>`;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    body,
    legend,
    '</svg>',
    '',
  ].join('\n');
}

function panelSvg(panel: Panel, left: number, top: number, color: (name: string) => string): string {
  const points = panel.series.flatMap((series) => series.points);
  if (points.length === 0) return '';
  const fx = (x: number) => (panel.logX ? Math.log2(x) : x);
  const xs = points.map(([x]) => fx(x));
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const yMax = niceCeiling(Math.max(...points.map(([, y]) => y)));
  const plotWidth = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => left + MARGIN.left + ((fx(x) - xMin) / (xMax - xMin || 1)) * plotWidth;
  const py = (y: number) => top + MARGIN.top + plotHeight - (y / (yMax || 1)) * plotHeight;
  const xTicks = [...new Set(points.map(([x]) => x))].sort((a, b) => a - b);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((share) => share * yMax);
  const axes = [
    `<text x="${left + PANEL_WIDTH / 2}" y="${top + 20}" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`,
    ...yTicks.map(
      (y) =>
        `<line x1="${px(xTicks[0]!)}" y1="${py(y)}" x2="${left + MARGIN.left + plotWidth}" y2="${py(y)}" stroke="#ddd"/><text x="${left + MARGIN.left - 6}" y="${py(y) + 4}" text-anchor="end">${formatTick(y)}</text>`,
    ),
    ...xTicks.map(
      (x) =>
        `<text x="${px(x)}" y="${top + MARGIN.top + plotHeight + 16}" text-anchor="middle">${formatTick(x)}</text>`,
    ),
    `<text x="${left + MARGIN.left + plotWidth / 2}" y="${top + HEIGHT - 10}" text-anchor="middle">${escapeXml(panel.xLabel)}</text>`,
    `<text transform="translate(${left + 14} ${top + MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.yLabel)}</text>`,
  ];
  const lines = panel.series.map((series) => {
    const sorted = [...series.points].sort((a, b) => a[0] - b[0]);
    const path = sorted.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    const dots = sorted
      .map(
        ([x, y]) =>
          `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color(series.name)}"/>`,
      )
      .join('');
    return `<polyline fill="none" stroke="${color(series.name)}" stroke-width="2" points="${path}"/>${dots}`;
  });
  return [...axes, ...lines].join('\n');
}

/** The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^n) at or above `value`. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return (
    ([1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((step) => step * magnitude >= value) ?? 10) * magnitude
  );
}

function formatTick(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : String(Number(value.toPrecision(3)));
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
