// The test generators' shared pieces (ticks.mjs,
// tests/integration/batch/lake_recompute.mjs and
// tests/integration/lake/archive.mjs): the symbols, and a small seeded PRNG
// (mulberry32) giving floats in [0, 1), so a seed always yields the same
// events.
export const SYMBOLS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'NVDA', 'META', 'TSLA', 'ORCL'];

export function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
