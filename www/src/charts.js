// Per-day bar charts with uPlot. Each chart sits in a <figure> whose caption states what the bars
// show in words; the same numbers are in the tables under the charts.
import uPlot from 'uplot';

import { fmtInt } from './dom.js';

export const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

const DAY = 86_400;
const INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

/**
 * Draws bars per day into `el`. `days` are Unix seconds of each UTC midnight; every series is
 * `{ label, values, color }`. `stacked` stacks the series (values as given, drawn cumulated);
 * otherwise one or two series stand side by side. Returns a function that removes the chart.
 */
export function dayBars(el, { days, series, stacked = false, height = 200 }) {
  const n = series.length;
  const totals = series.map((s) => s.values.reduce((a, b) => a + (b ?? 0), 0));
  let data;
  let shown;
  if (stacked) {
    // Cumulative sums drawn from the tallest down, so each bar covers the ones below it.
    const cum = series.map((_, i) => days.map((_, d) => series.slice(0, i + 1).reduce((s, x) => s + (x.values[d] ?? 0), 0)));
    shown = series.map((s, i) => ({ ...s, drawn: cum[i] })).reverse();
    data = shown.map((s) => s.drawn);
  } else {
    shown = series;
    data = series.map((s) => s.values);
  }
  // A day without any is no bar at all, not a hairline.
  data = [days, ...data.map((values) => values.map((v) => v || null))];
  const opts = {
    width: Math.max(320, el.clientWidth || 640),
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    legend: { live: true },
    scales: {
      x: { time: true, range: () => [days[0] - DAY / 2, days[days.length - 1] + DAY / 2] },
      y: { range: (u, min, max) => [0, Math.max(4, Math.ceil((max || 0) * 1.15))] },
    },
    axes: [
      { space: 48, values: (u, ticks) => ticks.map((t) => new Date(t * 1e3).toISOString().slice(5, 10)), stroke: '#374151', grid: { stroke: '#e5e7eb' } },
      { incrs: INCRS, values: (u, ticks) => ticks.map(fmtInt), stroke: '#374151', grid: { stroke: '#e5e7eb' }, size: 56 },
    ],
    series: [
      // Away from the chart the legend shows the month's totals; over a day, that day's values.
      { label: 'Day', value: (u, ts) => (ts == null ? 'month total' : new Date(ts * 1e3).toISOString().slice(0, 10)) },
      ...shown.map((s, i) => {
        const index = stacked ? n - 1 - i : i;
        return {
          label: s.label,
          stroke: s.color,
          fill: `${s.color}d0`,
          width: 1,
          points: { show: false },
          // Two series stand side by side around the day's tick; stacked bars share it.
          paths: uPlot.paths.bars({ size: [stacked || n === 1 ? 0.7 : 0.42, 28], align: stacked || n === 1 ? 0 : index === 0 ? -1 : 1 }),
          value: (u, v, si, di) => fmtInt(di == null ? totals[index] : series[index].values[di] ?? 0),
        };
      }),
    ],
  };
  const plot = new uPlot(opts, data, el);
  const ro = new ResizeObserver(() => {
    const w = Math.max(320, el.clientWidth);
    if (w !== plot.width) plot.setSize({ width: w, height });
  });
  ro.observe(el);
  return () => { ro.disconnect(); plot.destroy(); };
}
