// PNG copies of the SVG plots (for READMEs and viewers without SVG), rasterized by resvg (the
// Rust SVG renderer, prebuilt per platform in its npm package). Text uses the system's fonts:
// DejaVu Sans where it is installed (Debian's default), the generic sans-serif otherwise.
import * as fs from 'fs';

/** Rasterizes an SVG document at `scale` × its own size (default 2, sharp on high-density screens). */
export function svgToPng(svg: string, scale = 2): Buffer {
  if (!(scale > 0 && Number.isFinite(scale))) throw new Error(`svgToPng: scale must be a positive number, got ${scale}`);
  // Loaded on first use: only the report commands need it.
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}

/** Writes `base`.svg and `base`.png; returns both paths. */
export function writeSvgPng(base: string, svg: string): string[] {
  fs.writeFileSync(`${base}.svg`, svg);
  fs.writeFileSync(`${base}.png`, svgToPng(svg));
  return [`${base}.svg`, `${base}.png`];
}
