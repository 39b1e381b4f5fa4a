/** A token from the gateway's own local token endpoint. */
export async function tokenFor(baseUrl: string, userId: string, deviceId = 'd1'): Promise<string> {
  const response = await fetch(`${baseUrl}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId, deviceId }),
  });
  if (response.status !== 201) throw new Error(`token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** Calls the REST API as a user. */
export async function api<T = unknown>(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function createGroup(baseUrl: string, token: string, title: string, memberIds: string[]) {
  const { status, body } = await api<{ id: string }>(baseUrl, token, 'POST', '/conversations/groups', {
    title,
    memberIds,
  });
  if (status !== 201) throw new Error(`create group: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

export async function openDirect(baseUrl: string, token: string, peerId: string) {
  const { status, body } = await api<{ id: string }>(baseUrl, token, 'POST', '/conversations/direct', {
    peerId,
  });
  if (status !== 201 && status !== 200) throw new Error(`open direct: ${status} ${JSON.stringify(body)}`);
  return body.id;
}
