/**
 * Test support: builds an instance of any catalogue entry carrying a chosen code, whatever the
 * class's constructor looks like, so tests (unit and in a real worker) can throw every entry.
 */
import { DureError, FederatedError, ServerRefusedError, type CatalogueEntry } from '../protocol/errors.ts';

type AnyCtor = new (...args: unknown[]) => DureError;

export function buildCatalogueError(entry: CatalogueEntry, code: string, message: string): DureError {
  const C = entry.errorClass as unknown as AnyCtor;
  if (C === (DureError as unknown)) return new DureError(code, message);
  if (C === (FederatedError as unknown)) return new FederatedError(code, 400, message);
  if (C === (ServerRefusedError as unknown)) return new ServerRefusedError(message, 409, 'LATE_UPDATE');
  // Classes with one code take only a message; those with several take the code second.
  return Object.keys(entry.codes).length === 1 ? new C(message) : new C(message, code);
}
