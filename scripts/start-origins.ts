/**
 * The browser origins the federated server must allow when `npm start` serves the pages on
 * `webPort`: the console and the widget call the server from there, and a CORS list that names
 * another port makes every enrolment fail with a bare "Failed to fetch" (issue #20). Origins an
 * operator already listed in DURE_CORS_ORIGINS are kept, first.
 */
export function startCorsOrigins(webPort: number, configured: string | undefined): string {
  const listed = (configured ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  // Both spellings of the loopback host: a browser sends whichever the address bar shows.
  const web = [`http://localhost:${webPort}`, `http://127.0.0.1:${webPort}`];
  return [...new Set([...listed, ...web])].join(',');
}
