import { describe, expect, it } from 'vitest';
import type { AppendInput, AppendResult } from './conversations-repository.ts';
import { GroupCommit } from './group-commit.ts';

/** Records each batch handed to `commit` and answers it when the test says so. */
function recorder() {
  const batches: { inputs: readonly AppendInput[]; settle(error?: Error): void }[] = [];
  const commit = (inputs: readonly AppendInput[]) =>
    new Promise<AppendResult[]>((resolve, reject) => {
      batches.push({
        inputs,
        settle: (error) =>
          error
            ? reject(error)
            : resolve(
                inputs.map((i, n) => ({
                  status: 'stored',
                  members: [i.senderId],
                  message: {
                    conversationId: i.conversationId,
                    seq: n + 1,
                    senderId: i.senderId,
                    clientMsgId: i.clientMsgId,
                    text: i.text,
                    createdAt: new Date(0).toISOString(),
                  },
                })),
              ),
      });
    });
  return { batches, commit };
}

const metrics = { commitBatch: { observe() {} }, commits: { inc() {} } } as never;
const input = (id: string): AppendInput => ({
  conversationId: 'c',
  senderId: 'u',
  clientMsgId: id,
  text: id,
});
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('group commit (batching of appends)', () => {
  it('keeps a group of appends whole and in order, and answers each caller its own results', async () => {
    const { batches, commit } = recorder();
    const commits = new GroupCommit({
      commit,
      maxMessages: 4,
      maxBytes: 1 << 20,
      windowMs: 0,
      concurrency: 1,
      metrics,
    });
    const a = commits.appendAll([input('a1'), input('a2'), input('a3')]);
    const b = commits.appendAll([input('b1'), input('b2'), input('b3')]);
    const c = commits.append(input('c1'));
    await turn();
    // b does not fit beside a (3 + 3 > 4): it waits whole for the next batch instead of being split.
    expect(batches.map((x) => x.inputs.map((i) => i.clientMsgId))).toEqual([['a1', 'a2', 'a3']]);
    batches[0]!.settle();
    expect((await a).map((r) => r.status === 'stored' && r.message.clientMsgId)).toEqual(['a1', 'a2', 'a3']);
    await turn();
    expect(batches[1]!.inputs.map((i) => i.clientMsgId)).toEqual(['b1', 'b2', 'b3', 'c1']);
    batches[1]!.settle();
    expect((await b).map((r) => r.status === 'stored' && r.message.clientMsgId)).toEqual(['b1', 'b2', 'b3']);
    expect((await c).status).toBe('stored');
  });

  it('a group larger than a batch is a batch of its own; a failed commit fails every group in it', async () => {
    const { batches, commit } = recorder();
    const commits = new GroupCommit({
      commit,
      maxMessages: 2,
      maxBytes: 1 << 20,
      windowMs: 0,
      concurrency: 1,
      metrics,
    });
    const big = commits.appendAll([input('x1'), input('x2'), input('x3')]);
    await turn();
    expect(batches[0]!.inputs).toHaveLength(3);
    batches[0]!.settle(new Error('commit refused'));
    await expect(big).rejects.toThrow('commit refused');
  });
});
