import pg from 'pg';

/** Creates an empty database (or a copy of `template`) and returns its connection string. */
export async function createTestDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const from = template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '';
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
