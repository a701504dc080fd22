/** The kernel-size field of the Compare and Cohorts pages: the CLI's `--kernel KxK` (empty: 3x3). */
import { h } from './ui.js';

export function kernelInput(id: string): HTMLInputElement {
  return h('input', {
    id,
    name: 'kernel',
    class: 'label',
    placeholder: '3x3',
    pattern: '\\s*\\d+\\s*[xX×]\\s*\\d+\\s*',
    title: 'Kernel size of the filters (5x5, 7x7, …; other sizes than 3x3 need `ingest --kernel all`)',
  }) as HTMLInputElement;
}
