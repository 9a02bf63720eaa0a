// Builds what a page downloads, widget.js and widget.css beside this file, from the readable src/, and the
// article view a page loads only when its visitor opens an article, widget-kb.js (from src/kb.js):
// the JavaScript through terser (pinned in package-lock.json), the CSS without comments and spare
// whitespace; the console's link rule (../console/js/links.js) is put in the script's closure. `make widget` runs it (after `npm ci` when node_modules is missing or older than the
// lock); so do infra/deploy.py and the local stack, through make, when the built files are stale.
// The same source and terser version give the same bytes: no dates, no paths, no source map.
//
//   node build.mjs            writes ./widget.js and ./widget.css
//   node build.mjs OUT_DIR    writes them in OUT_DIR instead (to compare with the shipped files)
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minify } from 'terser';

const here = fileURLToPath(new URL('.', import.meta.url));
const outDir = resolve(process.argv[2] || here);

const TERSER = {
  ecma: 2020,
  compress: { passes: 2 }, // the safe transforms only (no `unsafe*`)
  mangle: { reserved: ['Parley'] }, // local names only; window.Parley keeps its name (Parley.name)
  format: { ascii_only: true, comments: false }, // \u escapes stay escapes: right under any page charset
};

// CSS: comments out, whitespace runs to one space, none around { } ; , nor after : and no ; before }.
// Strings ('…' and "…") are kept byte for byte (the typing dots' content has two spaces).
function minifyCss(css) {
  const strings = [];
  const code = css.replace(/\/\*[\s\S]*?\*\/|"(?:\\[\s\S]|[^"\\])*"|'(?:\\[\s\S]|[^'\\])*'/g, (token) => {
    if (token.startsWith('/*')) return ' ';
    strings.push(token);
    return `\u0000${strings.length - 1}\u0000`;
  });
  return code
    .replace(/\s+/g, ' ')
    .replace(/ ?([{};,]) ?/g, '$1')
    .replace(/: /g, ':')
    .replace(/;}/g, '}')
    .trim()
    .replace(/\u0000(\d+)\u0000/g, (_, index) => strings[index]) + '\n';
}

async function emit(name, content) { // write then rename: a server never sends half a file
  const target = resolve(outDir, name), partial = `${target}.${process.pid}.tmp`;
  await writeFile(partial, content);
  await rename(partial, target);
  return `${name} ${Buffer.byteLength(content).toLocaleString('en')} B`;
}

// The link rule the console imports as a module goes into the widget's closure as plain declarations.
const LINKS_MARK = '/* @links.js */';
const links = (await readFile(resolve(here, '../console/js/links.js'), 'utf8')).replace(/^export /gm, '');
const source = await readFile(resolve(here, 'src/widget.js'), 'utf8');
if (!source.includes(LINKS_MARK)) throw new Error(`src/widget.js has no ${LINKS_MARK} mark for the link rule`);
const js = source.replace(LINKS_MARK, () => links);
// The article view (src/kb.js, loaded on demand) gets the link rule and the Markdown subset, module syntax out.
const MARKDOWN_MARK = '/* @markdown.js */';
const markdown = (await readFile(resolve(here, '../console/js/markdown.js'), 'utf8'))
  .replace(/^import .*$/gm, '').replace(/^export /gm, '');
const kbSource = await readFile(resolve(here, 'src/kb.js'), 'utf8');
if (!kbSource.includes(MARKDOWN_MARK)) throw new Error(`src/kb.js has no ${MARKDOWN_MARK} mark for the Markdown rule`);
const kb = kbSource.replace(MARKDOWN_MARK, () => links + markdown);
const css = await readFile(resolve(here, 'src/widget.css'), 'utf8');
const { code } = await minify(js, TERSER);
const { code: kbCode } = await minify(kb, TERSER);
await mkdir(outDir, { recursive: true });
const written = [await emit('widget.js', code + '\n'), await emit('widget.css', minifyCss(css)),
  await emit('widget-kb.js', kbCode + '\n')];
console.log(`widget built from src/: ${written.join(', ')}`);
