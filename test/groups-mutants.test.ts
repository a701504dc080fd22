/**
 * Group labels (analysis/groups.ts), case by case with hand-derived answers: the depth deciles at and one ulp
 * either side of their edges, the label parser's accepted forms, the display order, the default grouping.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compareCodePoints,
  defaultGrouping,
  depthBinStart,
  depthDecile,
  displayOrder,
  NONE_GROUP,
} from '../src/analysis/groups.js';

describe('depthDecile: pandas.cut(0, 0.1, …, 1.0, include_lowest, right-closed)', () => {
  test('edges belong to the bin below them; the first bin is closed at 0', () => {
    assert.equal(depthDecile(0), '[0.0, 0.1]');
    assert.equal(depthDecile(0.05), '[0.0, 0.1]');
    assert.equal(depthDecile(0.1), '[0.0, 0.1]');
    assert.equal(depthDecile(0.10000000000000002), '(0.1, 0.2]');
    assert.equal(depthDecile(0.2), '(0.1, 0.2]');
    assert.equal(depthDecile(0.25), '(0.2, 0.3]');
    assert.equal(depthDecile(0.5), '(0.4, 0.5]');
    assert.equal(depthDecile(0.9), '(0.8, 0.9]');
    assert.equal(depthDecile(0.9000000000000001), '(0.9, 1.0]');
    assert.equal(depthDecile(1), '(0.9, 1.0]');
  });

  test('null outside [0, 1] and for NaN', () => {
    assert.equal(depthDecile(-Number.MIN_VALUE), null);
    assert.equal(depthDecile(-0.5), null);
    assert.equal(depthDecile(1.0000000000000002), null);
    assert.equal(depthDecile(2), null);
    assert.equal(depthDecile(Number.NaN), null);
    assert.equal(depthDecile(Number.POSITIVE_INFINITY), null);
  });
});

test('compareCodePoints: -1, 0, 1 by UTF-16 code units, upper case before lower case', () => {
  assert.equal(compareCodePoints('a', 'b'), -1);
  assert.equal(compareCodePoints('b', 'a'), 1);
  assert.equal(compareCodePoints('a', 'a'), 0);
  assert.equal(compareCodePoints('Z', 'a'), -1);
  assert.equal(compareCodePoints('[', '('), 1);
  assert.equal(compareCodePoints('ab', 'a'), 1);
});

describe('depthBinStart: the lower edge of a depth-bin label', () => {
  test('reads both bracket forms, signs, integers and several digits', () => {
    assert.equal(depthBinStart('[0.0, 0.1]'), 0);
    assert.equal(depthBinStart('(0.1, 0.2]'), 0.1);
    assert.equal(depthBinStart('(-0.5, 1]'), -0.5);
    assert.equal(depthBinStart('(1, 2]'), 1);
    assert.equal(depthBinStart('(10.25, 20]'), 10.25);
    assert.equal(depthBinStart('(1, 20.75]'), 1);
    assert.equal(depthBinStart('(1, -2]'), 1);
    assert.equal(depthBinStart('(1.5, 2]'), 1.5);
  });

  test('rejects anything else', () => {
    for (const label of [
      'x(0.1, 0.2]',
      '(0.1, 0.2]x',
      '{0.1, 0.2]',
      '(0.1, 0.2)',
      '(0.1,0.2]',
      '(0.1,  0.2]',
      '(.5, 1]',
      '(1., 2]',
      '(1, .5]',
      '(1, 2.]',
      '(a, 1]',
      '(1, b]',
      '(--1, 2]',
      '(1, --2]',
      '(1x, 2]',
      '(1, 2x]',
      '(1.5.5, 2]',
      '(1, 2.5.5]',
      '(, 2]',
      '(1, ]',
      NONE_GROUP,
      'model',
      '',
    ])
      assert.equal(depthBinStart(label), null, label);
  });
});

describe('displayOrder', () => {
  test('depth bins by their lower edge, then other labels in code-point order, then (none)', () => {
    const groups = [
      '(none)',
      'zeta',
      '(0.9, 1.0]',
      '(0.1, 0.2]',
      '[0.0, 0.1]',
      'alpha',
      '(10, 11]',
      '(2, 3]',
      'Alpha',
      '!',
    ];
    // 'Alpha' and '!' sort before '[' and '(' by code point, yet come after every bin
    assert.deepEqual(
      displayOrder(groups).map((i) => groups[i]),
      [
        '[0.0, 0.1]',
        '(0.1, 0.2]',
        '(0.9, 1.0]',
        '(2, 3]',
        '(10, 11]',
        '!',
        'Alpha',
        'alpha',
        'zeta',
        '(none)',
      ],
    );
  });

  test('bins with the same lower edge in code-point order', () => {
    const groups = ['(0.1, 0.3]', '(0.1, 0.2]', '[0.1, 0.2]'];
    assert.deepEqual(
      displayOrder(groups).map((i) => groups[i]),
      ['(0.1, 0.2]', '(0.1, 0.3]', '[0.1, 0.2]'],
    );
  });

  test('(none) after other labels even when it sorts first by code point', () => {
    const groups = ['b', '(none)', '(0.5, 0.6]', 'a'];
    assert.deepEqual(displayOrder(groups), [2, 3, 0, 1]);
  });

  test('groupings without a depth bin keep the order given', () => {
    assert.deepEqual(displayOrder(['b', '(none)', 'a']), [0, 1, 2]);
    assert.deepEqual(displayOrder([]), []);
  });
});

describe('defaultGrouping', () => {
  test('the first usable column that puts several models in a group', () => {
    assert.equal(
      defaultGrouping(
        [
          { name: 'Name', distinct: 5 },
          { name: 'Task', distinct: 2 },
          { name: 'Training', distinct: 3 },
        ],
        5,
      ),
      'Task',
    );
  });

  test('a column with a value per model when no other will do', () => {
    assert.equal(
      defaultGrouping(
        [
          { name: 'single', distinct: 1 },
          { name: 'Name', distinct: 5 },
          { name: 'Other', distinct: 5 },
        ],
        5,
      ),
      'Name',
    );
  });

  test('never a column with one value, a numeric one, or an id or count name', () => {
    assert.equal(defaultGrouping([{ name: 'Task', distinct: 1 }], 5), 'model');
    assert.equal(defaultGrouping([{ name: 'Task', distinct: 0 }], 5), 'model');
    assert.equal(defaultGrouping([{ name: 'Accuracy', distinct: 3, numeric: true }], 5), 'model');
    assert.equal(defaultGrouping([{ name: 'Accuracy', distinct: 3, numeric: false }], 5), 'Accuracy');
    assert.equal(defaultGrouping([], 5), 'model');
    for (const name of [
      'id',
      'model id',
      'model_id',
      'model-ids',
      'UID',
      'uuid x',
      'hash',
      'count',
      'layer counts',
      'number',
      'num_layers',
      'total',
      'n',
      'dataset_model_id',
      'layer_count',
      'x-total',
      'n_layers',
      'num-x',
      'count-x',
      '(3, 3) filters',
      'params',
      'share',
    ])
      assert.equal(defaultGrouping([{ name, distinct: 3 }], 5), 'model', name);
    // the words must stand alone: these are categories
    for (const name of [
      'Training',
      'idea',
      'Counter',
      'nature',
      'hidden',
      'Ident',
      'filtersize',
      'model_idea',
      'paramset',
      'shared',
      'nn',
    ])
      assert.equal(defaultGrouping([{ name, distinct: 3 }], 5), name, name);
  });
});
