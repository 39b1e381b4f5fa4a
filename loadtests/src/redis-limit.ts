import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const exec = promisify(execFile);

/**
 * The raw Redis limit a limiter decision is compared with: EVALSHA of a one-key script
 * (INCR, the smallest atomic counter step) from redis-benchmark, 50 connections, unpipelined.
 */
export async function redisEvalshaRate(
  redisUrl: string,
  requests = 100_000,
): Promise<{ rps: number; command: string }> {
  const url = new URL(redisUrl);
  const redis = new Redis(redisUrl);
  try {
    const sha = (await redis.script('LOAD', "return redis.call('INCR', KEYS[1])")) as string;
    const args = ['-h', url.hostname, '-p', url.port || '6379', '-q', '-n', String(requests), '-c', '50'];
    const command = ['evalsha', sha, '1', 'sdlab:load:evalsha-limit'];
    const { stdout } = await exec('redis-benchmark', [...args, ...command], { maxBuffer: 16 * 1024 * 1024 });
    const match = stdout
      .match(/([\d.]+) requests per second/g)
      ?.at(-1)
      ?.match(/[\d.]+/);
    if (!match) throw new Error(`redis-benchmark printed no rate:\n${stdout.slice(-500)}`);
    await redis.del('sdlab:load:evalsha-limit');
    return {
      rps: Number(match[0]),
      command: `redis-benchmark ${args.join(' ')} evalsha <INCR script> 1 <key>`,
    };
  } finally {
    redis.disconnect();
  }
}
