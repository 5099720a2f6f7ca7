/**
 * `npm start`: the federated server and the built PWA on localhost, with embedded defaults.
 * Nothing here reaches beyond localhost.
 */
import { preview } from 'vite';
import { startServer } from '../federated-server/src/main.ts';
import { startCorsOrigins } from './start-origins.ts';

const serverPort = Number(process.env['PORT'] ?? 8787);
const webPort = Number(process.env['DURE_WEB_PORT'] ?? 5173);

// The pages call the server from the web port: let that origin through CORS, whatever the port.
process.env['DURE_CORS_ORIGINS'] = startCorsOrigins(webPort, process.env['DURE_CORS_ORIGINS']);
const server = await startServer(serverPort);
const web = await preview({ preview: { port: webPort, strictPort: true, host: '127.0.0.1' } });
const webUrl = `http://localhost:${webPort}`;
console.log('');
console.log(`  두레 Dure is running`);
console.log(`  PWA:                ${webUrl}/`);
console.log(`  Demo portal (민원): ${webUrl}/demo/`);
console.log(`  Engine playground:  ${webUrl}/playground.html`);
console.log(`  WebGPU diagnostics: ${webUrl}/diagnostics.html`);
console.log(
  `  Federated server:   ${server.url}  (health: ${server.url}/healthz, API: ${server.url}/openapi.json)`,
);
console.log(`  Federated admin:    ${server.url}/admin`);
console.log(`  Institution console: ${webUrl}/console.html?server=${encodeURIComponent(server.url)}`);
console.log('  Ctrl+C to stop.');

const stop = async () => {
  await Promise.allSettled([server.close(), web.close()]);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
