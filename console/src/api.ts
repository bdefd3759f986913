// The console's one way to the API: POST /console/api/call as the signed-in user (the
// server runs it with the user's own IAM policies) with the session's CSRF token.

export class ApiError extends Error {
  constructor(
    public code: string,
    message: string,
    public status: number,
  ) {
    super(message);
  }
}

export interface Session {
  arn: string;
  account: string;
  region: string;
  accessKeyId: string;
  userName?: string;
  csrf: string;
  expires: string;
}

let csrf = "";
let signedOut: () => void = () => {};

/** Called when the server says the session is gone (expired, signed out, key deactivated). */
export function onSignedOut(handler: () => void) {
  signedOut = handler;
}

async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: any = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!res.ok) {
    if (res.status === 401) signedOut();
    throw new ApiError(body.__type ?? "Error", body.message ?? res.statusText, res.status);
  }
  return body as T;
}

/** One API operation, e.g. call("ssm", "DescribeInstanceInformation", {}). */
export async function call<T = any>(service: string, operation: string, input: object = {}): Promise<T> {
  const res = await fetch("/console/api/call", {
    method: "POST",
    headers: { "content-type": "application/json", "x-steward-csrf": csrf },
    body: JSON.stringify({ service, operation, input }),
    credentials: "same-origin",
  });
  return answer<T>(res);
}

/** Every page of a paginated operation, joined on `listKey`. */
export async function callAll<T = any>(
  service: string,
  operation: string,
  input: object,
  listKey: string,
  limit = 2000,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page: any = await call(service, operation, token ? { ...input, NextToken: token } : input);
    out.push(...(page[listKey] ?? []));
    token = page.NextToken;
  } while (token && out.length < limit);
  return out;
}

export async function currentSession(): Promise<Session | null> {
  const res = await fetch("/console/api/session", { credentials: "same-origin" });
  if (res.status === 401) return null;
  const s = await answer<Session>(res);
  csrf = s.csrf;
  return s;
}

/** What a sign-in gives: an access key pair, or an IAM user's console password (with a new
 * one when the server says it must be changed). */
export type Credentials =
  | { accessKeyId: string; secretAccessKey: string }
  | { account: string; userName: string; password: string; newPassword?: string };

export async function signIn(credentials: Credentials, region: string): Promise<Session> {
  const res = await fetch("/console/api/signin", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...credentials, region }),
    credentials: "same-origin",
  });
  const s = await answer<Session>(res);
  csrf = s.csrf;
  return s;
}

/** A recorded session's transcript: asciicast v2 text (a header line, then one event a line). */
export async function transcript(sessionId: string): Promise<string> {
  const res = await fetch(`/console/api/sessions/${encodeURIComponent(sessionId)}/transcript`, {
    credentials: "same-origin",
  });
  return res.ok ? res.text() : answer<string>(res);
}

/** The audit trail verified as `steward audit verify` does: the store's chain, then the
 * signed digests of its exports. */
export async function verifyAuditTrail(): Promise<any> {
  const res = await fetch("/console/api/audit/verify", {
    method: "POST",
    headers: { "x-steward-csrf": csrf },
    credentials: "same-origin",
  });
  return answer<any>(res);
}

export async function signOut(): Promise<void> {
  await fetch("/console/api/signout", {
    method: "POST",
    headers: { "x-steward-csrf": csrf },
    credentials: "same-origin",
  });
  csrf = "";
}

/** Dates as the API answers them (epoch seconds) in the reader's locale. */
export function when(value: number | string | undefined): string {
  if (value === undefined || value === null || value === "") return "-";
  const ms = typeof value === "number" ? value * 1000 : Date.parse(value);
  return Number.isNaN(ms) ? String(value) : new Date(ms).toLocaleString();
}

/** Why a call failed, as a line a person reads. */
export function why(e: unknown): string {
  if (e instanceof ApiError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
