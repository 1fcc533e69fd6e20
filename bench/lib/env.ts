/** Where the benchmarks live and write, and how they read their numeric settings. */
import { join } from 'node:path';

/** The repository root (benchmarks start the registry from here). */
export const ROOT = join(import.meta.dir, '..', '..');
/** Where every benchmark writes its JSON (and SVG) results. */
export const OUT_DIR = join(ROOT, '.bench-out');

/**
 * The number in environment variable `name`, or `fallback` when it is unset or not a number,
 * clamped to [min, max].
 */
export function envNumber(name: string, fallback: number, min: number, max: number): number {
  const value = Number(process.env[name] ?? fallback);
  return Math.max(min, Math.min(max, Number.isFinite(value) ? value : fallback));
}
