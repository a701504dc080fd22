/**
 * The cohort-study section of the database report (`report --db … --cohorts COL`): boxplots of sparsity,
 * variance entropy and orthogonality by depth bin and cohort, the divergence between cohorts by depth, the
 * correlations, and the per-model table (whole-model values).
 */
import { COHORT_METRICS, type CohortsResult } from '../analysis/cohorts.js';
import { escapeHtml as esc, figure, figureRow, type HtmlSection, htmlTable } from './html.js';
import { cohortBoxplotSvg, cohortDivergenceSvg } from './svg/cohorts.js';
import { fmt } from './svg/core.js';

const LABELS = { sparsity: 'sparsity', varianceEntropy: 'variance entropy', orthogonality: 'orthogonality' };

export function cohortSection(r: CohortsResult): HtmlSection {
  const sizes = r.groups.map((g) => `${esc(g)} (${r.models.filter((m) => m.group === g).length})`);
  const boxes = COHORT_METRICS.map((m) =>
    figure(cohortBoxplotSvg(r, m, { embedStyle: false, title: `${LABELS[m]} by depth` })),
  );
  const c = r.correlation;
  const corr = c
    ? `<p>Spearman's ρ with <b>${esc(c.column)}</b> over the models with a value (${c.n}): ${COHORT_METRICS.map(
        (m) => `${LABELS[m]} ${c[m] === null ? '–' : fmt(c[m], 3)}`,
      ).join(' · ')}.</p>`
    : '';
  const table = htmlTable(
    [
      { header: 'model' },
      { header: r.by },
      ...COHORT_METRICS.map((m) => ({
        header: LABELS[m],
        numeric: true,
        title: 'over all the model’s 3x3 layers',
      })),
    ],
    r.models.map((m) => [m.model, m.group, ...COHORT_METRICS.map((k) => m.whole[k])]),
  );
  return {
    id: 'cohorts',
    title: `Cohorts by ${r.by}`,
    intro:
      `<p class="muted">Cohorts (models): ${sizes.join(', ')}. Per model and depth bin ("first" = conv depth 0, then ` +
      'right-closed tenths of the normalised depth), the sparsity (share of filters with max|f| ≤ max|W|/100), the ' +
      'variance entropy of the non-sparse filters and the orthogonality of the layers, as in Gavrikov &amp; Keuper, ' +
      '<i>Adversarial Robustness through the Lens of Convolutional Filters</i> (CVPR-W 2022). Hover a dot for its model.</p>',
    body: figureRow(...boxes) + figure(cohortDivergenceSvg(r, { embedStyle: false })) + corr + table,
  };
}
