/**
 * A hand-written SVG chart for bench/compare.ts: one horizontal bar per scenario, the
 * "advantage" ratio (higher is better: throughput ours/baseline, time and memory baseline/ours)
 * on a log scale, a line at 1 (parity) and a red tick at each scenario's target.
 */

export interface Bar {
  label: string;
  /** higher is better; > 0 */
  value: number;
  /** target in the same orientation, if any */
  target?: number;
  met?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function barChart(title: string, subtitle: string, bars: Bar[]): string {
  const W = 960;
  const left = 330;
  const right = 40;
  const top = 70;
  const rowH = 26;
  const H = top + bars.length * rowH + 76;
  const vals = bars.flatMap((b) => [b.value, b.target ?? 1]).filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.min(0.1, ...vals);
  const hi = Math.max(10, ...vals);
  const l0 = Math.floor(Math.log10(lo));
  const l1 = Math.ceil(Math.log10(hi));
  const x = (v: number) => left + ((Math.log10(v) - l0) / (l1 - l0)) * (W - left - right);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<text x="${W / 2}" y="42" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`);
  // grid: decades and 2, 5
  for (let e = l0; e <= l1; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < 10 ** l0 || v > 10 ** l1) continue;
      const gx = x(v).toFixed(1);
      parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + bars.length * rowH}" stroke="${m === 1 ? '#bbb' : '#eee'}"/>`);
      parts.push(`<text x="${gx}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#555">${v >= 1 ? v : v.toPrecision(1)}×</text>`);
    }
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(b.label)}</text>`);
    if (Number.isFinite(b.value) && b.value > 0) {
      const x0 = x(Math.min(1, b.value));
      const x1 = x(Math.max(1, b.value));
      const color = b.met === undefined ? '#7a9cc6' : b.met ? '#4a9a5a' : '#d08a3a';
      parts.push(`<rect x="${x0.toFixed(1)}" y="${y + 5}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${rowH - 10}" fill="${color}"/>`);
      const tx = b.value >= 1 ? x1 + 4 : x0 - 4;
      parts.push(`<text x="${tx.toFixed(1)}" y="${y + 17}" text-anchor="${b.value >= 1 ? 'start' : 'end'}" fill="#222">${b.value.toFixed(b.value >= 10 ? 0 : 2)}×</text>`);
    } else {
      parts.push(`<text x="${x(1) + 4}" y="${y + 17}" fill="#999">n/a</text>`);
    }
    if (b.target !== undefined) {
      const t = x(b.target).toFixed(1);
      parts.push(`<line x1="${t}" y1="${y + 2}" x2="${t}" y2="${y + rowH - 2}" stroke="#c00" stroke-width="2"/>`);
    }
  });
  const px = x(1).toFixed(1);
  parts.push(`<line x1="${px}" y1="${top - 6}" x2="${px}" y2="${top + bars.length * rowH}" stroke="#333" stroke-width="1.5"/>`);
  const ly = top + bars.length * rowH + 38;
  parts.push(`<text x="20" y="${ly}" fill="#333">bar: ours vs baseline, higher is better (throughput ours/baseline; time, latency, CPU and memory baseline/ours); log scale, 1× = parity.</text>`);
  parts.push(`<text x="20" y="${ly + 16}" fill="#333"><tspan fill="#c00">red tick</tspan>: target as a ratio. green: target met, orange: missed (an absolute target such as RSS &lt; 80 MiB has no tick), blue: no target.</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
