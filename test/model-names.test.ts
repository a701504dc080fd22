/** A model's name from its path (src/model/names.ts): the CLI's walk and the web app's dropped folders. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelNameOfPath } from '../src/model/names.js';
import { modelNameOf } from '../src/store/walk.js';

test('a file is named by its stem; a generic stem by its folder', () => {
  assert.equal(modelNameOfPath('zoo/resnet18.onnx'), 'resnet18');
  assert.equal(modelNameOfPath('models/x2/model.json'), 'x2');
  assert.equal(modelNameOfPath('C:\\models\\esrgan\\model.json'), 'esrgan');
  assert.equal(modelNameOfPath('bert/pytorch_model-00001-of-00002.bin'), 'bert');
  assert.equal(modelNameOfPath('sd/model.safetensors.index.json'), 'sd');
  // no folder to fall back on: the stem
  assert.equal(modelNameOfPath('model.json'), 'model');
  assert.equal(modelNameOfPath('x2', true), 'x2');
});

test('the CLI walk names models by the same rule', () => {
  for (const p of ['/data/zoo/resnet18.onnx', '/data/x2/model.json', 'model.json', '/m/a/pytorch_model.bin'])
    assert.equal(modelNameOf(p), modelNameOfPath(p));
  assert.equal(modelNameOf('/data/x2/model.json'), 'x2');
  assert.equal(modelNameOf('/data/folder', true), 'folder');
});
