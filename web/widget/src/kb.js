/* Parley chat widget: the article view, loaded on demand (web/widget/widget-kb.js, built from this file by
   build.mjs, which puts the console's link and Markdown rules, web/console/js/links.js and markdown.js, in
   its closure). widget.js loads it the first time a visitor opens a suggested article, then calls

     ParleyKb({ node, create, lang, api, site, item, back, answer })

   node: where to draw (inside the widget's shadow root); create: widget.js's node maker (text stays text);
   item: {id, title} from the search; back(): return to the chat; answer(helpful): the visitor's Yes or No.
   The article's body is the knowledge base's Markdown subset, drawn as nodes: never HTML. */
(() => {
  'use strict';
  /* @markdown.js */

  const STRINGS = {
    back: ['Back to the chat', 'Retour à la discussion'],
    loading: ['Loading the article…', 'Chargement de l’article…'],
    failed: ['This article could not be loaded. Please try again.', 'Impossible de charger cet article. Réessayez.'],
    full: ['Read the full article', 'Lire l’article complet'],
    ask: ['Did this answer your question?', 'Cet article répond-il à votre question\u00a0?'],
    yes: ['Yes', 'Oui'],
    no: ['No, I still need help', 'Non, j’ai encore besoin d’aide'],
    glad: ['Glad it helped! Write to us any time if you need anything else.',
      'Ravis d’avoir pu vous aider\u00a0! Écrivez-nous si vous avez besoin d’autre chose.'],
  };
  const CSS = `.parley-article{flex:1;overflow-y:auto;padding:14px 18px;background:#fff;line-height:1.5}
.parley-back{color:var(--parley-color);font-weight:600;padding:4px 0}
.parley-atitle{margin:10px 0 6px;font-size:17px}
.parley-abody code{background:#f0f2f4;padding:0 3px;border-radius:4px}
.parley-abody a,.parley-full{color:var(--parley-color)}
.parley-ask{margin-top:16px;padding:12px;border:var(--line);border-radius:12px;background:#f6f8fa}
.parley-yn{margin:8px 8px 0 0;padding:7px 14px;border:1px solid;border-radius:16px;color:var(--parley-color)}`;

  window.ParleyKb = ({ node, create, lang, api, site, item, back, answer }) => {
    const t = (key) => STRINGS[key][+(lang === 'fr')];
    const backButton = create('button.back', { type: 'button' }, '\u2190 ' + t('back'));
    const title = create('h3.atitle', { id: 'parley-atitle', tabindex: -1 }, item.title);
    const content = create('div.abody', { 'aria-busy': true }, create('p', null, t('loading')));
    const ask = create('div.ask', { hidden: '' });
    backButton.onclick = back;
    node.replaceChildren(create('style', null, CSS), backButton, title, content, ask);
    title.focus();
    fetch(api + '/v1/sites/' + encodeURIComponent(site) + '/articles/' + encodeURIComponent(item.id))
      .then((response) => (response.ok ? response.json() : Promise.reject(response)))
      .then((article) => {
        if (!node.contains(title)) return; // the visitor went back, or opened another one
        title.textContent = article.title;
        const link = safeHttpUrl(article.url);
        content.replaceChildren(...markdownNodes(article.body, create), ...(link ? [create('p', null,
          create('a.full', { href: link, target: '_blank', rel: 'noopener noreferrer nofollow' }, t('full') + ' \u2197'))] : []));
        content.removeAttribute('aria-busy');
        const yes = create('button.yn', { type: 'button' }, t('yes')), no = create('button.yn', { type: 'button' }, t('no'));
        yes.onclick = () => {
          ask.replaceChildren(create('p.q', { role: 'status' }, t('glad')));
          answer(true);
        };
        no.onclick = () => answer(false);
        ask.replaceChildren(create('p.q', { id: 'parley-ask' }, t('ask')),
          create('div', { role: 'group', 'aria-labelledby': 'parley-ask' }, yes, no));
        ask.hidden = false;
      }, () => {
        content.replaceChildren(create('p', { role: 'alert' }, t('failed')));
        content.removeAttribute('aria-busy');
      });
  };
})();
