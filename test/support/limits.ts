/** Limits for test apps: kept in memory, and as generous as asked (default: none reached). */
import { memoryRateLimiter, type RateLimiter } from '../../src/limits/rate-limits.js';

let made = 0;

export function testLimiter(points = 1_000_000, durationSeconds = 3600, what = 'test requests'): RateLimiter {
  return memoryRateLimiter(`test-${++made}`, what, { points, durationSeconds });
}
