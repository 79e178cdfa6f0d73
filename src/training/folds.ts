/** The speaker-independent folds of `earshot train`: RAVDESS actors held out 4 at a time. */
import { EarshotError } from '../core/errors.ts';

/** `--folds "1-4;5,6,7,8"`: folds separated by ";", actors by ",", "A-B" for a range; two-digit ids. */
export function parseFolds(spec: string): string[][] {
  return spec.split(';').map((fold) =>
    fold.split(',').flatMap((token) => {
      const m = /^\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?$/.exec(token);
      if (!m) throw new EarshotError('E_USAGE', `--folds: "${token}" is not an actor number or range (e.g. 1-4;5,6,7,8)`);
      const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
      if (b < a) throw new EarshotError('E_USAGE', `--folds: range "${token}" runs backwards`);
      return Array.from({ length: b - a + 1 }, (_, i) => String(a + i).padStart(2, '0'));
    }),
  );
}

/** RAVDESS actors in 5 folds of 4, two male (odd) and two female (even) each. */
export const RAVDESS_FOLDS = [
  ['01', '02', '03', '04'],
  ['05', '06', '07', '08'],
  ['09', '10', '11', '12'],
  ['13', '14', '15', '16'],
  ['17', '18', '19', '20'],
];
