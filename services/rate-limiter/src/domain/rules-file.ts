import { readFile } from 'node:fs/promises';
import { parseRules, type Rule, RulesError } from '@sdlab/rate-limit';
import { parse } from 'yaml';

/**
 * Reads and validates a rules file: YAML with a top-level `rules:` list. Throws a RulesError whose
 * problems name the file and, for a bad rule, the rule and the field.
 */
export async function loadRulesFile(path: string): Promise<Rule[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new RulesError([`cannot read: ${(error as Error).message}`], `rules file ${path}`);
  }
  let document: unknown;
  try {
    document = parse(text, { prettyErrors: true });
  } catch (error) {
    throw new RulesError([`not valid YAML: ${(error as Error).message}`], `rules file ${path}`);
  }
  const rules = (document as { rules?: unknown } | null)?.rules;
  if (rules === undefined)
    throw new RulesError(['a top-level "rules:" list is required'], `rules file ${path}`);
  return parseRules(rules, `rules file ${path}`);
}
