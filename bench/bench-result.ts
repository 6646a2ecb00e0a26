/** One line of `npm run bench`: a measurement, optionally with its in-run baseline and the ratio to it. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: string;
  ratio?: number;
  target?: string;
}
