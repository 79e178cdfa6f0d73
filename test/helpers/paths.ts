import { fileURLToPath } from 'node:url';

export { ROOT } from '../../src/core/paths.ts';
/** The shared corpora (read-only), beside the checkout: ../shared/data. */
export const DATA = fileURLToPath(new URL('../../../shared/data', import.meta.url));
