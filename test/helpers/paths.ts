import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The shared corpora (read-only), beside the checkout: ../shared/data. */
export const DATA = fileURLToPath(new URL('../../../shared/data', import.meta.url));
