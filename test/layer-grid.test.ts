/** layerGridSvg: the raster's layout (matrix, 1x1 weight matrix, wrapped depthwise), scales and dead marks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layerGridSvg } from '../src/report/svg/index.js';
import { dataUriBytes, pngIndices } from './support/png-indices.js';

function raster(svg: string) {
  const href = /href="(data:image\/png;base64,[^"]+)"/.exec(svg)?.[1];
  assert.ok(href, 'the grid is one PNG image');
  const geometry = JSON.parse(/data-geometry="([^"]+)"/.exec(svg)![1].replace(/&quot;/g, '"'));
  return { ...pngIndices(dataUriBytes(href)), geometry };
}

/** Palette: 0 gap, 1 non-finite, 2 dead, 3..255 the diverging map (129 = white zero). */
describe('layerGridSvg', () => {
  it('a 1x1 layer is its out × in weight matrix: one pixel per weight, sign to the map ends', () => {
    const w = [1, -1, 0, 0.5, NaN, -0.25];
    const r = raster(layerGridSvg(w, [2, 3, 1, 1]));
    assert.deepEqual([r.width, r.height], [3, 2]);
    assert.deepEqual(Array.from(r.indices), [255, 3, 129, 192, 1, 98]);
  });

  it('per-filter scale: each 1x1 output row reaches the map ends on its own', () => {
    const w = [10, -5, 0.1, -0.05];
    const layer = raster(layerGridSvg(w, [2, 2, 1, 1], { scale: 'layer' }));
    const row = raster(layerGridSvg(w, [2, 2, 1, 1], { scale: 'filter' }));
    assert.notEqual(layer.indices[2], 3 + 252);
    assert.equal(row.indices[2], 255);
    assert.equal(row.indices[3], 66);
  });

  it('dead filters are drawn in the marker colour, every pixel of a 3×3 filter; gaps between filters', () => {
    const w = Array.from({ length: 2 * 2 * 9 }, (_, i) => (i % 7) - 3);
    const r = raster(layerGridSvg(w, [2, 2, 3, 3], { dead: [1, 2] }));
    assert.deepEqual([r.width, r.height], [7, 7]);
    assert.equal(r.indices.filter((v) => v === 2).length, 18);
    assert.equal(r.indices[3], 0, 'the column between two filters is a gap');
    assert.equal(r.indices[4], 2, 'filter (0, 1) is dead');
  });

  it('a depthwise layer (one input channel) is wrapped into rows of output channels', () => {
    const out = 96;
    const w = Array.from({ length: out * 9 }, (_, i) => Math.sin(i));
    const svg = layerGridSvg(w, [out, 1, 3, 3], { dead: [95] });
    const r = raster(svg);
    assert.equal(r.geometry.wrap, 12);
    assert.deepEqual([r.geometry.cols, r.geometry.rows], [12, 8]);
    assert.deepEqual([r.width, r.height], [12 * 4 - 1, 8 * 4 - 1]);
    // filter 95 is the last cell of the last grid row
    assert.equal(r.indices[7 * 4 * r.width + 11 * 4], 2);
    assert.match(svg, /row start \+ offset/);
  });

  it('refuses shapes it cannot draw with a message', () => {
    assert.match(layerGridSvg([1, 2], [2, 2, 3, 3]), /weight holds 2 values/);
    assert.match(layerGridSvg([], [2, 2, 3]), /not a 2-D convolution/);
  });
});
