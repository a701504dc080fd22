export { mulberry32 } from '../../src/metrics/random.js';
