// Zipf-skewed picks for the scenarios whose traffic is skewed (a few hot links, a few hot ads).

/** Cumulative Zipf weights over `n` ranks: rank r is picked with probability proportional to 1 / r^s. */
export function zipfCumulative(n, s) {
  const cumulative = [];
  let total = 0;
  for (let rank = 1; rank <= n; rank++) {
    total += 1 / rank ** s;
    cumulative.push(total);
  }
  return cumulative.map((c) => c / total);
}

/** A rank (0-based) drawn by those weights: binary search for the first cumulative weight >= u. */
export function zipfPick(cumulative) {
  const u = Math.random();
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
