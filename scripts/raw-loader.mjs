// Node module hook: `import text from './x.wgsl?raw'` yields the file's text, as Vite does.
// Registered by bin/dure.js and bench scripts so the engine runs unbundled under tsx.
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('?raw')) {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL(url.slice(0, -4)), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
