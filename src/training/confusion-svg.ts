/**
 * A confusion matrix as a standalone SVG: cells shaded by row-normalised rate (recall per true
 * class), each showing the count and the percentage, with the headline metrics as the title.
 */
import type { EvalMetrics } from './metrics.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function confusionSvg(m: EvalMetrics, title: string): string {
  const { labels, matrix } = m.confusion;
  const k = labels.length;
  const cell = 56;
  const left = 96;
  const top = 84;
  const width = left + k * cell + 24;
  const height = top + k * cell + 56;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`);
  parts.push(
    `<text x="${width / 2}" y="36" text-anchor="middle">accuracy ${(100 * m.accuracy).toFixed(1)}%  UAR ${(100 * m.uar).toFixed(1)}%  macro F1 ${(100 * m.f1Macro).toFixed(1)}%  n=${m.n}</text>`,
  );
  parts.push(`<text x="${left + (k * cell) / 2}" y="${top - 26}" text-anchor="middle" font-style="italic">predicted</text>`);
  parts.push(`<text transform="translate(14 ${top + (k * cell) / 2}) rotate(-90)" text-anchor="middle" font-style="italic">true</text>`);
  for (let j = 0; j < k; j++) {
    parts.push(`<text x="${left + j * cell + cell / 2}" y="${top - 8}" text-anchor="middle">${esc(labels[j].slice(0, 8))}</text>`);
  }
  for (let i = 0; i < k; i++) {
    const rowSum = matrix[i].reduce((a, b) => a + b, 0);
    parts.push(`<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(labels[i])}</text>`);
    for (let j = 0; j < k; j++) {
      const v = matrix[i][j];
      const rate = rowSum > 0 ? v / rowSum : 0;
      // White to a dark blue; text flips to white on dark cells.
      const shade = Math.round(255 - rate * 200);
      const fill = `rgb(${shade},${Math.round(255 - rate * 140)},255)`;
      const x = left + j * cell;
      const y = top + i * cell;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"/>`);
      const color = rate > 0.55 ? 'white' : 'black';
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 - 2}" text-anchor="middle" fill="${color}">${v}</text>`);
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 12}" text-anchor="middle" fill="${color}" font-size="9">${(100 * rate).toFixed(0)}%</text>`);
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}
