/**
 * Renders model output as safe HTML. Model text is untrusted: a prompt-injected
 * answer can carry `<script>`, event handlers, or a one-pixel markdown image whose URL leaks the
 * conversation. So: raw HTML is shown as text, images never load (they become their
 * alt text and address), links show their real target and open with `noopener noreferrer`, only
 * http(s)/mailto links survive, and DOMPurify runs last with a short allow-list as the backstop.
 */
import DOMPurify, { type Config } from 'dompurify';
import { Marked, type Tokens } from 'marked';

const SAFE_SCHEMES = /^(?:https?:|mailto:)/i;

function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A URL the widget may link to, or null. Relative and scheme-less URLs are refused. */
export function safeLinkTarget(href: string): string | null {
  const trimmed = href.trim();
  if (!SAFE_SCHEMES.test(trimmed)) return null;
  try {
    return new URL(trimmed).href;
  } catch {
    return null;
  }
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    image({ href, text }: Tokens.Image): string {
      // Never fetched: the citizen sees that an image was offered and where it points.
      const label = text ? `${escapeHtml(text)} ` : '';
      return `<span class="dure-image-ref">[${label}${escapeHtml(href)}]</span>`;
    },
    link(this: { parser: { parseInline(t: Tokens.Link['tokens']): string } }, token: Tokens.Link): string {
      const label = this.parser.parseInline(token.tokens);
      const target = safeLinkTarget(token.href);
      if (!target) return `${label} <span class="dure-link-target">(${escapeHtml(token.href)})</span>`;
      const shown =
        token.text.trim() === token.href.trim()
          ? ''
          : ` <span class="dure-link-target">(${escapeHtml(target)})</span>`;
      return `<a href="${escapeHtml(target)}" rel="noopener noreferrer" target="_blank">${label}</a>${shown}`;
    },
  },
});

const PURIFY: Config = {
  ALLOWED_TAGS: [
    'p',
    'br',
    'strong',
    'em',
    'del',
    'code',
    'pre',
    'blockquote',
    'ul',
    'ol',
    'li',
    'a',
    'span',
    'hr',
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'input',
  ],
  ALLOWED_ATTR: ['href', 'rel', 'target', 'class', 'type', 'checked', 'disabled'],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
};

let hooked = false;
function installHooks(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const target = safeLinkTarget(node.getAttribute('href') ?? '');
      if (target) node.setAttribute('href', target);
      else node.removeAttribute('href');
      node.setAttribute('rel', 'noopener noreferrer');
      node.setAttribute('target', '_blank');
    }
    // GFM task lists are the only inputs marked emits; they must stay inert.
    if (node.tagName === 'INPUT') {
      if (node.getAttribute('type') !== 'checkbox') node.remove();
      else node.setAttribute('disabled', '');
    }
    if (
      node.hasAttribute('class') &&
      !/^(dure-[a-z-]+|language-[\w-]+)$/.test(node.getAttribute('class') ?? '')
    )
      node.removeAttribute('class');
  });
}

/**
 * Markdown → sanitized HTML string, safe to assign to `innerHTML` in the widget's shadow root.
 * Needs a DOM (browser or worker with DOM is not enough: DOMPurify needs `document`).
 */
export function renderMarkdown(markdown: string): string {
  installHooks();
  const html = marked.parse(markdown, { async: false });
  return DOMPurify.sanitize(html, PURIFY) as string;
}
