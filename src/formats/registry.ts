/** All format readers, in the order detection asks them. Add one line per reader. */
import { kerasReader } from './keras.js';
import { onnxReader } from './onnx.js';
import { pytorchReader } from './pytorch.js';
import type { FormatReader } from './reader.js';
import { safetensorsReader } from './safetensors.js';
import { tfjsReader } from './tfjs.js';
import { tfliteReader } from './tflite.js';

export const readers: FormatReader[] = [
  // readers are appended here, one import + one entry each
  pytorchReader,
  safetensorsReader,
  onnxReader,
  tfjsReader,
  tfliteReader,
  kerasReader,
];
