import { describe, expect, it } from 'vitest';
import { writeRules } from '../../test/support/rules-file.ts';
import { loadRulesFile } from './rules-file.ts';

async function problemsOf(path: string): Promise<readonly string[]> {
  return loadRulesFile(path).then(
    () => [],
    (error: { problems: readonly string[] }) => error.problems,
  );
}

describe('loadRulesFile', () => {
  it('says what is wrong with a file that is not a rules file', async () => {
    const file = writeRules([]);
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(file.path, 'rules: [ { name: free\n');
      expect((await problemsOf(file.path))[0]).toMatch(/^not valid YAML: /);
      writeFileSync(file.path, 'limits: []\n');
      expect(await problemsOf(file.path)).toEqual(['a top-level "rules:" list is required']);
      expect(await problemsOf(`${file.path}.missing`)).toEqual([
        expect.stringMatching(/^cannot read: ENOENT/),
      ]);
    } finally {
      file.remove();
    }
  });
});
