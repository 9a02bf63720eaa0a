/* Parley chat widget (docs/protocol.md). One global: Parley('open' | 'close'), Parley('identify', {name, email,
   user_id, user_hash}), Parley('on', event, fn). Shadow DOM; people's text is only ever set as text. */
(() => {
  'use strict';
  const w = window, d = document, nav = navigator;
  if (w.Parley && w.Parley.loaded) return; // included twice: the first copy runs
  const me = d.currentScript || d.querySelector('script[data-site-key][src*="widget"]');
  const SITE = me && me.dataset.siteKey;
  if (!SITE) return;
  const API = (me.dataset.api || new URL(me.src, location).origin).replace(/\/+$/, '');
  const WS = API.replace(/^http/, 'ws') + '/ws';
  const KEY = 'parley:' + SITE, EMAIL = /^[^@\s<>"']+@[^@\s<>"']+\.[^@\s<>"'.]+$/;

  const STRINGS = {
    open: ['Open chat', 'Ouvrir la discussion'],
    close: ['Close chat', 'Fermer la discussion'],
    online: ['We reply in a few minutes', 'R\u00e9ponse en quelques minutes'],
    away: ['We are away right now', 'Nous sommes absents'],
    message: ['Message', 'Message'],
    write: ['Write a message\u2026', '\u00c9crivez un message\u2026'],
    send: ['Send', 'Envoyer'],
    sending: ['Sending\u2026', 'Envoi\u2026'],
    seen: ['Seen', 'Vu'],
    typing: ['{n} is typing\u2026', '{n} \u00e9crit\u2026'],
    agent: ['Agent', 'Conseiller'],
    bot: ['Bot', 'Assistant'],
    queue: ['Waiting for an agent: position {p}, about {m} min', 'En attente\u00a0: position {p}, environ {m}\u00a0min'],
    unread: ['{n} unread', '{n} non lu(s)'],
    name: ['Name', 'Nom'],
    email: ['Email', 'E-mail'],
    prechat: ['Before we start, how can we reach you?', 'Avant de commencer, comment vous joindre\u00a0?'],
    offline: ["We're away. Leave a message and we'll reply by email.", 'Nous sommes absents. Laissez un message, nous r\u00e9pondrons par e-mail.'],
    required: ['This field is required', 'Ce champ est obligatoire'],
    bad_email: ['Enter a valid email address', 'Saisissez une adresse e-mail valide'],
    done: ["Thanks! We'll reply by email to {e}.", 'Merci\u00a0! Nous vous r\u00e9pondrons par e-mail \u00e0 {e}.'],
    rate: ['How would you rate this conversation?', 'Comment \u00e9valuez-vous cette conversation\u00a0?'],
    stars: ['{n} out of 5', '{n} sur 5'],
    comment: ['Add a comment (optional)', 'Un commentaire (facultatif)'],
    thanks: ['Thanks for your feedback!', 'Merci pour votre avis\u00a0!'],
    transcript: ['Email me the transcript', 'M\u2019envoyer la transcription par e-mail'],
    sent_to: ['Transcript sent to {e}.', 'Transcription envoy\u00e9e \u00e0 {e}.'],
    oops: ['Something went wrong. Please try again.', 'Une erreur est survenue. R\u00e9essayez.'],
    net: ['Reconnecting\u2026 your messages will follow.', 'Reconnexion\u2026 vos messages suivront.'],
    refused: ['Chat is unavailable on this website.', 'Discussion indisponible sur ce site.'],
  };
  const fr = /^fr\b/i.test(d.documentElement.lang || nav.language), lang = fr ? 'fr' : 'en';
  const t = (key, vars) => STRINGS[key][+fr].replace(/\{(\w)\}/g, (_, v) => vars[v]);

  // where storage is blocked, S lives in memory only
  let store = null;
  try { store = w.localStorage; store.setItem(KEY, store.getItem(KEY) || '{}'); } catch (e) { store = null; }
  const S = { outbox: [], fields: {}, read: 0, seen: 0 };
  try { Object.assign(S, JSON.parse(store.getItem(KEY))); } catch (e) {}
  const save = () => {
    try { store.setItem(KEY, JSON.stringify(S)); } catch (e) {}
  };

  let settings = { prechat: {}, availability: {} }, ui, isOpen, wantOpen, ident = {}, flash = '', refused;
  let ws, up, connecting, stale, tries = 0, nextRef = 0, flying, catching, again, retryTimer, flashTimer;
  let msgs = [], byId = {}, top = 0, sentRead = 0, unread = -1, queue, agentTyping, agentTimer;
  let typingOn, lastTyping = 0, typingTimer, idleTimer;
  const refs = {}, handlers = {};
  const emit = (name, data) => (handlers[name] || []).forEach((fn) => setTimeout(fn, 0, data));

  const resume = /[?&]parley_resume=([\w.-]+)&parley_conversation=(\w+)/.exec(location.search);
  if (resume) {
    forget();
    [, S.token, S.conv] = resume;
    stale = wantOpen = true;
    history.replaceState(history.state, '', location.href.replace(resume[0], ''));
  }

  function h(sel, attrs, ...kids) {
    const [tag, ...cls] = sel.split('.'), e = d.createElement(tag);
    if (cls[0]) e.className = cls.map((c) => 'parley-' + c).join(' ');
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    e.append(...kids.filter(Boolean));
    return e;
  }

  function icon(path) {
    const ns = 'http://www.w3.org/2000/svg', svg = d.createElementNS(ns, 'svg'), p = d.createElementNS(ns, 'path');
    svg.setAttribute('viewBox', '0 0 24 24');
    p.setAttribute('d', path);
    svg.append(p);
    return svg;
  }

  const linkify = (text) => text.split(/(\bhttps?:\/\/[^\s<>"]*[^\s<>"'.,;:!?)\]}])/i).map((part, i) => {
    let url;
    try { url = i % 2 && new URL(part); } catch (e) { /* stays text */ }
    return url && /^https?:$/.test(url.protocol) ? h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, part) : part;
  });

  const get = (path) => fetch(API + '/v1/sites/' + encodeURIComponent(SITE) + path).then((r) => (r.ok ? r.json() : Promise.reject(r)));

  async function session() {
    if (S.token && !stale) return S.token;
    const body = { site_key: SITE, page_url: location.href, locale: nav.language, ...S.fields };
    if (ident.user_id) Object.assign(body, ident); else body.resume_token = S.token;
    const r = await fetch(API + '/v1/visitor/sessions', { method: 'POST', body: JSON.stringify(body) });
    if (r.status === 401 && body.resume_token) {
      S.token = null;
      forget();
      return session();
    }
    if (r.status !== 201) throw r;
    S.token = (await r.json()).token;
    stale = false;
    save();
    return S.token;
  }

  const wanted = () => S.conv || S.outbox.length || isOpen || ident.user_id;

  async function connect() {
    if (refused || ws || connecting || !wanted() || !nav.onLine) return;
    connecting = true;
    clearTimeout(retryTimer);
    let token, opened;
    try {
      token = await session();
    } catch (r) {
      connecting = false;
      return r.status === 403 || retry();
    }
    connecting = false;
    const s = ws = new WebSocket(WS + '?token=' + encodeURIComponent(token));
    s.onopen = () => {
      opened = up = true;
      sentRead = 0;
      S.conv ? catchUp() : flush();
      paint();
    };
    s.onmessage = (e) => onFrame(JSON.parse(e.data));
    s.onclose = () => {
      stale = stale || (!opened && nav.onLine);
      drop(s);
    };
  }

  function drop(s) {
    if (!s || ws !== s) return;
    ws = flying = up = catching = null;
    for (const ref in refs) {
      clearTimeout(refs[ref].timer);
      refs[ref].cb({ code: 'closed' });
      delete refs[ref];
    }
    s.close();
    retry();
    paint();
  }

  function retry() {
    clearTimeout(retryTimer);
    if (wanted()) retryTimer = setTimeout(connect, Math.min(30000, 1000 * 2 ** tries++) * (0.5 + Math.random() / 2));
  }

  function send(frame, cb) {
    if (!up) return cb && cb({ code: 'closed' });
    if (cb) {
      const s = ws, ref = frame.ref = String(++nextRef);
      refs[ref] = { cb, timer: setTimeout(() => drop(s), 15000) };
    }
    ws.send(JSON.stringify(frame));
  }

  function onFrame(f) {
    const pending = refs[f.ref], type = f.type, m = f.message;
    if (pending && /ack|error/.test(type)) {
      tries = 0;
      clearTimeout(pending.timer);
      delete refs[f.ref];
      return pending.cb(type === 'error' && f, f);
    }
    const mine = f.conversation_id === S.conv, them = f.author && f.author.kind !== 'visitor';
    if (type === 'message') {
      if (!S.conv) {
        S.conv = f.conversation_id;
        return catchUp();
      }
      if (!mine) return;
      if (m.seq > top + 1) catchUp();
      if (add(m, true) && m.author.kind !== 'visitor') agentTyping = null;
    } else if (type === 'typing' && mine && them) {
      agentTyping = f.state === 'on' && f.author;
      clearTimeout(agentTimer);
      agentTimer = setTimeout(() => paint(agentTyping = null), 10000);
    } else if (type === 'read' && mine && them) {
      S.seen = Math.max(S.seen, f.seq);
    } else if (type === 'conversation') {
      adopt(f.conversation);
    } else if (type === 'queue') { // may come before start's ack names the conversation
      queue = f;
    } else if (type === 'csat_request' && mine) {
      S.csat = S.conv;
    }
    save();
    paint();
  }

  function add(m, live) {
    if (!m || m.internal || byId[m.id]) return;
    byId[m.id] = m;
    top = Math.max(top, m.seq);
    if (m.author.kind === 'visitor') S.outbox = S.outbox.filter((o) => o.cid !== m.client_msg_id);
    let i = msgs.length;
    while (i && msgs[i - 1].seq > m.seq) i--;
    msgs.splice(i, 0, m);
    if (live && m.author.kind !== 'visitor') emit('message', m);
    save();
    return true;
  }

  function adopt(c) {
    if (c.id !== S.conv) {
      if (S.conv) forget();
      S.conv = c.id;
    }
    S.read = Math.max(S.read, c.visitor_read_seq || 0);
    if (!/queued|bot/.test(c.status)) queue = null;
    save();
  }

  function forget() {
    msgs = [];
    byId = {};
    top = sentRead = 0;
    queue = null;
    Object.assign(S, { conv: null, read: 0, seen: 0, csat: null, offline: 0 });
    save();
  }

  function catchUp() {
    if (!up || !S.conv) return;
    if (catching) return (again = true);
    catching = true;
    again = false;
    const live = msgs.length > 0, frame = { action: 'history', conversation_id: S.conv, limit: 20 };
    if (live) frame.after_seq = top;
    send(frame, (err, ack) => {
      catching = false;
      if (err) return err.code === 'not_found' && (forget(), flush(), paint());
      ack.messages.forEach((m) => add(m, live));
      top = Math.max(top, ack.last_seq || 0); // the rest were notes
      paint();
      again || (live && ack.has_more) ? catchUp() : flush();
    });
  }

  function flush() {
    const o = S.outbox[0];
    if (!up || flying || !o) return;
    flying = o.cid;
    send(S.conv
      ? { action: 'send', conversation_id: S.conv, client_msg_id: o.cid, text: o.text }
      : { action: 'start', text: o.text, client_msg_id: o.cid, page_url: location.href, fields: S.fields }, (err, ack) => {
      flying = null;
      if (err) return failed(o, err);
      if (ack.conversation) { // start does not echo its message
        adopt(ack.conversation);
        return catchUp();
      }
      add(ack.message);
      paint();
      flush();
    });
  }

  function failed(o, { code, retry_after }) {
    if (code === 'closed') return;
    if (code === 'unauthorized') return drop(ws);
    if (/bad_request|too_large|forbidden/.test(code)) { // refused for good: give the text back
      S.outbox.shift();
      ui.input.value = o.text;
      say(t('oops'));
    } else if (code === 'not_found' || (code === 'conflict' && (o.tries = (o.tries | 0) + 1) > 2)) {
      forget(); // closed: the outbox starts a new conversation
    } else return setTimeout(flush, (retry_after || 2) * 1000);
    save();
    paint();
    flush();
  }

  function enqueue(text) {
    if (!(text = text.trim().slice(0, 4000))) return;
    const cid = 'w' + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => (b + 256).toString(16).slice(1)).join('');
    S.outbox.push({ cid, text });
    save();
    paint(true);
    ws ? flush() : connect();
  }

  function markRead() {
    const others = msgs.filter((m) => /agent|bot/.test(m.author.kind)), last = others[others.length - 1];
    if (isOpen && d.visibilityState === 'visible' && last) {
      S.read = Math.max(S.read, last.seq);
      if (S.read > sentRead) send({ action: 'read', conversation_id: S.conv, seq: sentRead = S.read });
      save();
    }
    const n = others.filter((m) => m.seq > S.read).length;
    ui.badge.textContent = n > 9 ? '9+' : n;
    ui.badge.hidden = !n || isOpen;
    ui.launcher.setAttribute('aria-label', t(isOpen ? 'close' : 'open') + (n ? ', ' + t('unread', { n }) : ''));
    if (n !== unread) emit('unread', unread = n);
  }

  function onInput() {
    const input = ui.input;
    if (!input.value.trim()) return stopTyping();
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, 3000);
    typingTimer = typingTimer || setTimeout(() => {
      typingTimer = 0;
      lastTyping = Date.now();
      if (S.conv && input.value.trim()) {
        typingOn = true;
        send({ action: 'typing', conversation_id: S.conv, state: 'on', preview: input.value.slice(0, 4000) });
      }
    }, Math.max(0, lastTyping + 800 - Date.now()));
  }

  function stopTyping() {
    clearTimeout(idleTimer);
    clearTimeout(typingTimer);
    typingTimer = 0;
    if (typingOn) send({ action: 'typing', conversation_id: S.conv, state: 'off' });
    typingOn = false;
  }

  function build() {
    const color = /^#[0-9a-f]{6}$/i.test(settings.color) ? settings.color : '#1f6feb', rgb = parseInt(color.slice(1), 16);
    const light = (rgb >> 16) + ((rgb >> 8) & 255) * 2 + (rgb & 255) > 600;
    const css = h('link', { rel: 'stylesheet', href: new URL('widget.css', me.src) });
    const input = h('textarea.input', { rows: 1, maxlength: 4000, placeholder: t('write'), 'aria-label': t('message') });
    const composer = h('form.composer', 0, input, h('button.send', { 'aria-label': t('send') }, icon('M3 20.5 21.5 12 3 3.5V10l13 2-13 2z')));
    const tform = h('div.tform', 0, form(t('transcript'), ['email'], ['email'], ({ email }) => {
      send({ action: 'transcript', conversation_id: S.conv, email }, (err) => say(t(err ? 'oops' : 'sent_to', { e: email })));
      mail.click();
    }));
    const temail = tform.querySelector('input');
    const mail = h('button.icon', { type: 'button', 'aria-label': t('transcript'), 'aria-expanded': false }, '\u2709');
    const closer = h('button.icon', { type: 'button', 'aria-label': t('close') }, '\u00d7');
    const launcher = h('button.launcher', { type: 'button', 'aria-expanded': false },
      icon('M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z'));
    const body = h('div.body', 0, h('p.greeting', 0, settings.greeting));
    const panel = h('section.panel', { role: 'dialog', 'aria-labelledby': 'parley-name' },
      h('header.header', 0, h('div.titles', 0, h('h2.name', { id: 'parley-name' }, settings.name), h('p.sub')), mail, closer),
      tform, body, h('p.status', { role: 'status' }), composer);
    ui = {
      app: h(light ? 'div.app.light' : 'div.app', { lang }, css, panel, launcher),
      panel, body, composer, input, launcher, mail, nodes: {}, view: '',
      sub: panel.querySelector('.parley-sub'), status: panel.querySelector('.parley-status'),
      badge: launcher.appendChild(h('span.badge', { 'aria-hidden': true })),
      log: body.appendChild(h('div.log', { role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions' })),
    };
    ['note', 'queue', 'typing', 'csat', 'forms'].forEach((k) => { ui[k] = body.appendChild(h('div.' + k)); });
    ui.typing.append(h('i.dots'), h('span'));
    ui.app.style.setProperty('--parley-color', color);
    ui.app.hidden = panel.hidden = tform.hidden = true;
    css.onload = css.onerror = () => { ui.app.hidden = false; };
    const host = h('div', { id: 'parley-widget' });
    (ui.root = host.attachShadow({ mode: 'open' })).append(ui.app);
    (d.body || d.documentElement).append(host);

    launcher.onclick = () => toggle(!isOpen);
    closer.onclick = () => toggle(false);
    mail.onclick = () => {
      mail.setAttribute('aria-expanded', tform.hidden);
      if ((tform.hidden = !tform.hidden)) return input.focus();
      temail.value ||= S.fields.email || '';
      temail.oninput();
      temail.focus();
    };
    panel.addEventListener('keydown', (e) => e.key === 'Escape' && (tform.hidden ? toggle(false) : mail.click()));
    input.oninput = onInput;
    input.onkeydown = (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit(); }
    };
    composer.onsubmit = (e) => {
      e.preventDefault();
      const text = input.value;
      input.value = '';
      onInput();
      enqueue(text);
    };
  }

  function form(intro, names, required, onValid) {
    const f = h('form.form', 0, h('p.q', 0, intro));
    const inputs = names.map((name) => {
      const area = name === 'message', type = name === 'email' ? 'email' : 'text';
      const el = h(area ? 'textarea.input' : 'input.input', area ? { rows: 3, maxlength: 4000 } : { type, autocomplete: name });
      Object.assign(el, { name, required: required.includes(name), value: S.fields[name] || '' });
      (el.oninput = () => {
        const v = el.value.trim();
        el.setCustomValidity(!v ? (el.required ? t('required') : '') : type === 'email' && !EMAIL.test(v) ? t('bad_email') : '');
      })();
      f.append(h('label.label', 0, t(name) + (el.required ? ' *' : ''), el));
      return el;
    });
    f.append(h('button.primary', 0, t('send')));
    f.onsubmit = (e) => {
      e.preventDefault();
      onValid(Object.fromEntries(inputs.map((el) => [el.name, el.value.trim()])));
    };
    return f;
  }

  function buildForm(kind) {
    const pre = settings.prechat, on = pre.enabled;
    const names = ((on && pre.fields) || []).filter((n) => /^(name|email)$/.test(n));
    if (kind === 'offline' && !names.includes('email')) names.push('email');
    return form(t(kind), names.concat('message'), ((on && pre.required) || []).concat('message', kind === 'offline' ? 'email' : []), (v) => {
      names.forEach((n) => { S.fields[n] = v[n] || undefined; });
      S.offline = kind === 'offline';
      enqueue(v.message);
      ui.input.focus();
    });
  }

  function buildCsat() {
    const comment = h('textarea.input', { rows: 2, maxlength: 2000, 'aria-label': t('comment'), placeholder: t('comment') });
    const card = h('div.card', 0, h('p.q', 0, t('rate')), comment);
    card.append(h('div.stars', { role: 'group', 'aria-label': t('rate') }, ...[1, 2, 3, 4, 5].map((rating) => {
      const star = h('button.star', { type: 'button', 'aria-label': t('stars', { n: rating }) }, '\u2605');
      star.onclick = () => send({ action: 'rate', conversation_id: S.conv, rating, comment: comment.value.trim() || undefined }, (err) => {
        if (err && err.code !== 'conflict') return say(t(err.code === 'closed' ? 'net' : 'oops'));
        S.rated = S.conv;
        save();
        card.replaceChildren(h('p.q', 0, t('thanks')));
      });
      return star;
    })));
    return card;
  }

  function say(text) {
    flash = text;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => paint(flash = ''), 8000);
    paint();
  }

  function messageNode(m) {
    const kind = m.cid ? 'visitor' : m.author.kind, el = h('div.msg.' + kind);
    if (/agent|bot/.test(kind)) el.append(el.who = h('div.author', 0, m.author.name || t(kind)));
    el.append(h('div.bubble', 0, ...linkify(m.text)));
    if (m.options) {
      el.append(el.options = h('div', 0, ...m.options.map((o) => {
        const chip = h('button.chip', { type: 'button' }, o.label);
        chip.onclick = () => { // refused (no bot yet): send as text
          m.chosen = true;
          send({ action: 'choose', conversation_id: S.conv, option_id: o.id }, (err) => err && enqueue(o.label));
          paint();
        };
        return chip;
      })));
    }
    el.append(el.meta = h('div.meta'));
    return el;
  }

  // a confirmed message keeps its pending node: announced once
  function renderLog() {
    const items = msgs.concat(S.outbox), nodes = {}, log = ui.log;
    const seen = msgs.filter((m) => m.author.kind === 'visitor' && m.seq <= S.seen).pop();
    let i = 0, prev;
    items.forEach((m, index) => {
      const key = m.cid || (m.author.kind === 'visitor' && m.client_msg_id) || m.id;
      if (nodes[key]) return;
      const el = nodes[key] = ui.nodes[key] || messageNode(m), author = m.cid ? 'visitor' : m.author.kind + m.author.id;
      if (el.who) el.who.hidden = prev === author;
      if (el.options) el.options.hidden = m.chosen || index < items.length - 1;
      el.classList.toggle('parley-pending', !!m.cid);
      el.meta.textContent = m.cid ? t('sending') : m === seen ? t('seen') : '';
      if (log.children[i] !== el) log.insertBefore(el, log.children[i] || null);
      prev = author;
      i++;
    });
    while (log.children[i]) log.lastChild.remove();
    ui.nodes = nodes;
  }

  function paint(scroll) {
    if (!ui) return;
    const body = ui.body, pre = settings.prechat, chatting = S.conv || S.outbox.length;
    const stick = scroll || body.scrollHeight - body.scrollTop - body.clientHeight < 80;
    const online = settings.availability.online !== false;
    const view = refused || chatting ? '' : !online ? 'offline' : pre.enabled && !(pre.required || []).every((k) => S.fields[k]) ? 'prechat' : '';
    if (view !== ui.view) ui.forms.replaceChildren(...(view ? [buildForm(view)] : []));
    ui.view = view;
    ui.sub.textContent = t(refused ? 'refused' : online ? 'online' : 'away');
    renderLog();
    ui.composer.hidden = refused || view;
    ui.mail.hidden = !S.conv;
    ui.note.textContent = S.offline && chatting ? t('done', { e: S.fields.email }) : '';
    const q = queue && queue.conversation_id === S.conv && queue;
    ui.queue.textContent = q ? t('queue', { p: q.position, m: Math.ceil((q.eta_seconds || 1) / 60) }) : '';
    ui.typing.hidden = !agentTyping;
    ui.typing.lastChild.textContent = agentTyping ? t('typing', { n: agentTyping.name || t('agent') }) : '';
    if (S.csat !== S.conv || !S.conv) ui.csat.replaceChildren();
    else if (!ui.csat.firstChild && S.rated !== S.conv) ui.csat.append(buildCsat());
    ui.status.textContent = flash || (chatting && !up && isOpen ? t('net') : '');
    markRead();
    if (stick) body.scrollTop = body.scrollHeight;
  }

  function toggle(open) {
    if (!ui) return (wantOpen = open);
    if (!isOpen === !open) return;
    const hadFocus = ui.root.activeElement;
    isOpen = open;
    ui.panel.hidden = !open;
    ui.app.classList.toggle('parley-open', open);
    ui.launcher.setAttribute('aria-expanded', open);
    paint(true);
    emit(open ? 'open' : 'close');
    if (!open) {
      stopTyping();
      return hadFocus && ui.launcher.focus();
    }
    (ui.forms.querySelector('input, textarea') || ui.input).focus();
    connect();
    get('/availability').then((a) => paint(settings.availability = a), () => {});
  }

  function identify(o) {
    const f = S.fields, before = JSON.stringify([f, ident.user_id]);
    if (o.name) f.name = String(o.name).slice(0, 120);
    if (EMAIL.test(o.email)) f.email = o.email;
    if (o.user_id) {
      if (S.uid && S.uid !== String(o.user_id)) { S.token = null; forget(); }
      ident = { user_id: S.uid = String(o.user_id), user_hash: o.user_hash };
    }
    save();
    if (before === JSON.stringify([f, ident.user_id])) return;
    stale = true;
    ws ? drop(ws) : connect();
  }

  function Parley(command, arg, fn) {
    if (/open|close/.test(command)) toggle(command === 'open');
    if (command === 'identify') identify(arg || {});
    if (command === 'on') (handlers[arg] = handlers[arg] || []).push(fn);
  }
  Parley.loaded = true;
  const queued = (w.Parley && w.Parley.q) || [];
  w.Parley = Parley;
  queued.forEach((args) => Parley(...args));

  get('/settings').then((s) => (settings = s), (r) => r.status === 401 ? Promise.reject(r)
    : r.status || fetch(API + '/v1/health').then(() => (refused = 1), () => 0)).then(() => {
    build();
    paint();
    toggle(wantOpen);
    connect();
  }, () => console.warn('Parley: unknown site key ' + SITE));
  w.addEventListener('online', () => { tries = 0; connect(); paint(); });
  w.addEventListener('offline', () => drop(ws));
  d.addEventListener('visibilitychange', () => paint());
  setInterval(() => send({ action: 'ping' }), 240000);
})();
