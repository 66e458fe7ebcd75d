// The last hour of an endpoint as an SVG chart: a stacked bar per minute (succeeded, failed, canceled: the
// throughput) and a line for the failure rate of each minute (failed / (succeeded + failed)), on its own scale.
import { svg } from './dom.js';

const WIDTH = 600;
const HEIGHT = 120;
const TOP = 14;

export function throughputChart(
  series: ReadonlyArray<{ succeeded: number; failed: number; canceled: number }>,
  since: number,
  bucketMs: number,
): SVGElement {
  const peak = Math.max(1, ...series.map((b) => b.succeeded + b.failed + b.canceled));
  const slot = WIDTH / series.length;
  const scale = (n: number) => (n / peak) * (HEIGHT - TOP);
  const chart = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${WIDTH} ${HEIGHT + 16}`,
    role: 'img',
    'aria-label': `Jobs finished per minute over the last hour; at most ${peak} in a minute`,
  });
  chart.appendChild(svg('line', { x1: 0, y1: HEIGHT, x2: WIDTH, y2: HEIGHT, class: 'axis' }));
  const rate: string[] = [];
  series.forEach((bucket, index) => {
    const x = index * slot + 1;
    let y = HEIGHT;
    const start = new Date(since + index * bucketMs);
    const label = `${start.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: ${bucket.succeeded} succeeded, ${bucket.failed} failed, ${bucket.canceled} canceled`;
    const group = svg('g', { class: 'bar' }, svg('title', {}, label));
    for (const status of ['succeeded', 'failed', 'canceled'] as const) {
      const height = scale(bucket[status]);
      if (height <= 0) continue;
      y -= height;
      group.appendChild(svg('rect', { x, y, width: Math.max(1, slot - 2), height, class: status }));
    }
    chart.appendChild(group);
    const ran = bucket.succeeded + bucket.failed;
    if (ran > 0) rate.push(`${x + slot / 2 - 1},${TOP + (1 - bucket.failed / ran) * (HEIGHT - TOP)}`);
  });
  if (rate.length > 1) chart.appendChild(svg('polyline', { points: rate.join(' '), class: 'rate-line' }));
  chart.appendChild(svg('text', { x: 0, y: HEIGHT + 13, class: 'tick' }, '60 min ago'));
  chart.appendChild(svg('text', { x: WIDTH, y: HEIGHT + 13, class: 'tick end' }, 'now'));
  chart.appendChild(svg('text', { x: 0, y: 10, class: 'tick' }, `${peak} / min`));
  return chart;
}
