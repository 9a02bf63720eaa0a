/* An article's body: the small Markdown subset the knowledge base speaks (docs/kb.md), the one rule
 * the console's preview and the widget's article view share.
 *
 * Paragraphs (blank lines between), lists ("- " or "* ", "1. "), **bold**, *italic* (or _italic_),
 * `inline code`, [links](https://…) and bare http(s) URLs. Anything else is text: no HTML, no images,
 * no headings. The console imports this module; the widget's build (web/widget/build.mjs) puts the
 * same declarations, without `import`/`export`, inside its article view's script, beside links.js's.
 *
 * markdownTree(text) gives plain data, so it can be tested without a DOM; markdownNodes(text, create)
 * turns it into nodes through the caller's create(tag, attributes, ...children), which sets text as
 * text: no string ever becomes HTML. */
import { linkParts, safeHttpUrl } from "./links.js";

const MD_INLINE = /`([^`\n]+)`|\*\*(?=\S)([\s\S]+?)\*\*|__(?=\S)([\s\S]+?)__|\*(?=[^\s*])([^*]+?)\*|(?<![\p{L}\p{N}])_(?=[^\s_])([^_]+?)_(?![\p{L}\p{N}])|\[([^\]\n]+)\]\(([^()\s]+)\)/gu;
const MD_ITEM = /^\s{0,3}(?:([-*+])|(\d{1,9})[.)])\s+/;

/** Inline runs: strings, and {tag, children} for strong, em, code and a (with href). */
export function markdownInline(text, inLink) {
  const out = [];
  let last = 0;
  const plain = (run) => {
    if (!run) return;
    if (inLink) return out.push(run);
    for (const part of linkParts(run)) out.push(typeof part === "string" ? part : { tag: "a", href: part.href, children: [part.label] });
  };
  for (const m of String(text).matchAll(MD_INLINE)) {
    const [whole, code, bold1, bold2, em1, em2, label, href] = m;
    let node;
    if (code !== undefined) node = { tag: "code", children: [code] };
    else if (bold1 !== undefined || bold2 !== undefined) node = { tag: "strong", children: markdownInline(bold1 ?? bold2, inLink) };
    else if (em1 !== undefined || em2 !== undefined) node = { tag: "em", children: markdownInline(em1 ?? em2, inLink) };
    else {
      const safe = !inLink && safeHttpUrl(href);
      node = safe ? { tag: "a", href: safe, children: markdownInline(label, true) } : null;
    }
    if (!node) continue; // a link to anything but http(s) stays text
    plain(text.slice(last, m.index));
    out.push(node);
    last = m.index + whole.length;
  }
  plain(String(text).slice(last));
  return out;
}

/** Blocks: {tag: "p", children} and {tag: "ul" | "ol", children: [{tag: "li", children}]}. */
export function markdownTree(text) {
  const blocks = [];
  let para = [], list = null;
  const endPara = () => {
    if (para.length) blocks.push({ tag: "p", children: markdownInline(para.join(" ")) });
    para = [];
  };
  const endList = () => {
    if (list) blocks.push({ tag: list.tag, children: list.items.map((item) => ({ tag: "li", children: markdownInline(item.join(" ")) })) });
    list = null;
  };
  for (const raw of String(text || "").replace(/\r\n?/g, "\n").split("\n")) {
    const line = raw.trim(), item = MD_ITEM.exec(raw);
    if (!line) {
      endPara();
      endList();
    } else if (item) {
      endPara();
      const tag = item[1] ? "ul" : "ol";
      if (list && list.tag !== tag) endList();
      list = list || { tag, items: [] };
      list.items.push([raw.slice(item[0].length).trim()]);
    } else if (list && /^\s/.test(raw)) {
      list.items[list.items.length - 1].push(line); // an item's indented next line
    } else {
      endList();
      para.push(line);
    }
  }
  endPara();
  endList();
  return blocks;
}

/** The body as plain text, marks taken out: for snippets, summaries and previews. */
export function markdownText(text) {
  const flat = (nodes) => nodes.map((node) => (typeof node === "string" ? node : flat(node.children))).join("");
  return markdownTree(text).map((block) => (block.tag === "p" ? flat(block.children)
    : block.children.map((item) => "- " + flat(item.children)).join("\n"))).join("\n\n");
}

/** The body as nodes made by create(tag, attributes, ...children); links open in a new tab, no referrer. */
export function markdownNodes(text, create) {
  const build = (node) => (typeof node === "string" ? node : create(node.tag,
    node.href ? { href: node.href, target: "_blank", rel: "noopener noreferrer nofollow" } : {},
    ...node.children.map(build)));
  return markdownTree(text).map(build);
}
