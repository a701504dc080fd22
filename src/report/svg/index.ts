/** Every plot: pure functions data → SVG string (isomorphic; used by the HTML report and the web app). */

export {
  type AtlasDepthOptions,
  type AtlasExamplesOptions,
  type AtlasPrototypesOptions,
  atlasDepthSvg,
  atlasExamplesSvg,
  atlasPrototypesSvg,
  LABEL_COLORS,
} from './atlas.js';
export {
  type CohortPlotData,
  type CohortPlotOptions,
  cohortBoxplotSvg,
  cohortDivergenceSvg,
  type DivergencePlotData,
} from './cohorts.js';
export { CATEGORICAL, divergingColor, divergingRgb, viridisRgb } from './color.js';
export { esc, PLOT_CSS, type PlotCell, type PlotFrameOptions, type PlotTable } from './core.js';
export { type DensityGridData, type DensityOptions, densitySvg } from './density.js';
export {
  type BoxSeries,
  boxStats,
  type DriftBoxplotOptions,
  type DriftHeatmapOptions,
  type DriftMatrixData,
  driftBoxplotSvg,
  driftHeatmapSvg,
  upperTriangle,
} from './drift.js';
export {
  type EnergyCorrelationData,
  type EnergyPlotOptions,
  type EnergySeries,
  energyCorrelationSvg,
  energyProfileSvg,
} from './energy.js';
export { type FilterGridOptions, filterGridSvg, type RgbGridOptions, rgbFilterGridSvg } from './filters.js';
export {
  DEAD_COLOR,
  type LayerGridGeometry,
  type LayerGridOptions,
  layerGridLayout,
  layerGridSvg,
} from './layer-grid.js';
export {
  ALPHA_PANEL,
  DEFAULT_METRIC_PANELS,
  initBandOf,
  is3x3,
  type MetricCurveLayer,
  type MetricCurvesOptions,
  type MetricPanel,
  metricCurvesSvg,
  panelFlags,
} from './metrics.js';
export {
  type CumulativeVarianceOptions,
  cumulativeVarianceSvg,
  type EigenImagesOptions,
  eigenImagesSvg,
  type VarianceSeries,
} from './pca.js';
export {
  coefficientTitle,
  type RidgeCurve,
  type RidgeGridOptions,
  type RidgeGridPanel,
  type RidgeOptions,
  ridgeGridSvg,
  ridgePlotSvg,
} from './ridge.js';
