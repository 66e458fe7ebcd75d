/**
 * The dashboard's authorization hook of this example: one operator token (DASHBOARD_TOKEN), sent as the password
 * of HTTP Basic authentication (any user name; the browser asks for it) or as `Authorization: Bearer <token>`.
 * An operator with the token sees every owner's jobs. Compared in constant time (both sides hashed first).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DashboardAuthorize } from '@jobs/dashboard';
import { HTTPException } from 'hono/http-exception';

const digest = (value: string) => createHash('sha256').update(value).digest();

export function tokenAuthorization(token: string): DashboardAuthorize {
  const expected = digest(token);
  const matches = (candidate: string) => timingSafeEqual(digest(candidate), expected);
  return (c) => {
    const header = c.req.header('authorization') ?? '';
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === 'bearer' && matches(value)) return {};
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      if (matches(decoded.slice(decoded.indexOf(':') + 1))) return {};
    }
    throw new HTTPException(401, {
      res: new Response('The dashboard needs the operator token (DASHBOARD_TOKEN) as the password.\n', {
        status: 401,
        headers: {
          'WWW-Authenticate': 'Basic realm="jobs dashboard", charset="UTF-8"',
          'Content-Type': 'text/plain; charset=utf-8',
        },
      }),
    });
  };
}
