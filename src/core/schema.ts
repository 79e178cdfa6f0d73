/** Helpers shared by every zod schema of earshot (frontend, pipeline, publisher, daemon, model metadata). */
import type { z } from 'zod';

/** Formats zod issues as `path: message` lines, one per error. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    return `${path || '(root)'}: ${i.message}`;
  });
}
