export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function report(rows: Array<{ name: string; median: number; unit: string; baseline?: string; ratio?: number }>): void {
  console.log('\n' + ['benchmark', 'median', 'vs baseline'].join(' | '));
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}× ${r.baseline}`;
    console.log(`${r.name} | ${r.median.toFixed(3)} ${r.unit} | ${ratio}`);
  }
}
