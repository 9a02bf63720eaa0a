/* Parley chat widget: the readable source. Pages load the minified copy that `make widget` writes
   (web/widget/build.mjs, terser) to web/widget/widget.js, next to the minified widget.css; edit this file.

   One classic script, embedded with
     <script src="https://PARLEY/widget/widget.js" data-site-key="KEY" async></script>
   (optional data-api="https://API" when the API is not where the script comes from). It speaks the
   visitor side of docs/protocol.md: a session over REST, then one websocket. data-preview="TICKET" (the
   console's flow editor) asks for a preview session of the site's bot, kept in memory only: the visitor's
   stored session on that site is left alone.

   One global, which also works as a queue before the script has loaded (Parley.q, the snippet's stub):
     Parley('open') | Parley('close')
     Parley('identify', { name, email, user_id, user_hash })
     Parley('on', 'open' | 'close' | 'message' | 'unread', fn)
   While the visitor types, until someone of the team has written, it suggests the knowledge base's articles;
   the article view is a script of its own (widget-kb.js, from src/kb.js), loaded when one is opened.
   On a site with a bot (settings.bot), opening the panel starts the conversation, the bot greets, and
   "Talk to a person" stays one tap away while the bot answers (docs/bot.md).

   Everything it draws lives in a shadow root (page styles stay out, ours stay in), every class is
   `parley-…`, and people's text is only ever set as text, never as HTML. */
(() => {
  'use strict';
  if (window.Parley && window.Parley.loaded) return; // included twice (a CMS does that): the first copy runs

  // --- where we are: the script tag, the site, the API -------------------------------------------

  const script = document.currentScript || document.querySelector('script[data-site-key][src*="widget"]');
  const SITE_KEY = script && script.dataset.siteKey;
  if (!SITE_KEY) return;
  const API = (script.dataset.api || new URL(script.src, location).origin).replace(/\/+$/, '');
  const SOCKET_URL = API.replace(/^http/, 'ws') + '/ws';
  const STORAGE_KEY = 'parley:' + SITE_KEY;
  const PREVIEW = script.dataset.preview; // a preview of the bot: a session of its own, never stored
  const EMAIL = /^[^@\s<>"']+@[^@\s<>"']+\.[^@\s<>"'.]+$/;

  // --- texts: [English, French]; {x} is a value; \u00a0 is French's no-break space ----------------

  const STRINGS = {
    open: ['Open chat', 'Ouvrir la discussion'],
    close: ['Close chat', 'Fermer la discussion'],
    online: ['We reply in a few minutes', 'Réponse en quelques minutes'],
    away: ['We are away right now', 'Nous sommes absents'],
    message: ['Message', 'Message'],
    write: ['Write a message…', 'Écrivez un message…'],
    send: ['Send', 'Envoyer'],
    sending: ['Sending…', 'Envoi…'],
    seen: ['Seen', 'Vu'],
    typing: ['{n} is typing…', '{n} écrit…'],
    agent: ['Agent', 'Conseiller'],
    bot: ['Bot', 'Assistant'],
    queue: ['Waiting for an agent: position {p}, about {m} min', 'En attente\u00a0: position {p}, environ {m}\u00a0min'],
    unread: ['{n} unread', '{n} non lu(s)'],
    name: ['Name', 'Nom'],
    email: ['Email', 'E-mail'],
    prechat: ['Before we start, how can we reach you?', 'Avant de commencer, comment vous joindre\u00a0?'],
    offline: ["We're away. Leave a message and we'll reply by email.", 'Nous sommes absents. Laissez un message, nous répondrons par e-mail.'],
    required: ['This field is required', 'Ce champ est obligatoire'],
    bad_email: ['Enter a valid email address', 'Saisissez une adresse e-mail valide'],
    done: ["Thanks! We'll reply by email to {e}.", 'Merci\u00a0! Nous vous répondrons par e-mail à {e}.'],
    leaving: ['Sending your message…', 'Envoi de votre message…'],
    with: ['You are chatting with {n}', 'Vous discutez avec {n}'],
    rate: ['How would you rate this conversation?', 'Comment évaluez-vous cette conversation\u00a0?'],
    stars: ['{n} out of 5', '{n} sur 5'],
    comment: ['Add a comment (optional)', 'Un commentaire (facultatif)'],
    thanks: ['Thanks for your feedback!', 'Merci pour votre avis\u00a0!'],
    transcript: ['Email me the transcript', 'M’envoyer la transcription par e-mail'],
    sent_to: ['Transcript sent to {e}.', 'Transcription envoyée à {e}.'],
    oops: ['Something went wrong. Please try again.', 'Une erreur est survenue. Réessayez.'],
    net: ['Reconnecting… your messages will follow.', 'Reconnexion… vos messages suivront.'],
    refused: ['Chat is unavailable on this website.', 'Discussion indisponible sur ce site.'],
    unavailable: ['Chat is unavailable right now.', 'La discussion est indisponible pour le moment.'],
    contact: ['You can write to us at {e}.', 'Vous pouvez nous écrire à {e}.'],
    not_sent: ['Not sent', 'Non envoyé'],
    suggested: ['Suggested articles', 'Articles suggérés'],
    human: ['Talk to a person', 'Parler à une personne'],
  };
  // The visitor's language: the site's explicit choice (data-locale on the script tag) first, then the first
  // of the browser's languages the widget speaks, then the page's <html lang>; English otherwise.
  const speaks = (tag) => /^(en|fr)\b/i.test(tag || '') && tag.slice(0, 2).toLowerCase();
  const lang = speaks(script.dataset.locale) || (navigator.languages || [navigator.language]).map(speaks).find(Boolean)
    || speaks(document.documentElement.lang) || 'en';
  const french = lang === 'fr';
  const translate = (key, values) => STRINGS[key][+french].replace(/\{(\w)\}/g, (_, name) => values[name]);

  // --- what survives a reload: localStorage['parley:SITE_KEY'] ----------------------------------
  // outbox: [{cid, text, tries?}] not yet confirmed by the server; fields: {name, email} for the session;
  // token: the visitor session; conv: the conversation; read: the last seq the visitor has seen;
  // seen: the last seq the agent has read; csat / rated: the conversation asked for / given a rating;
  // uid: the identified user; offline: the conversation began as an offline message.
  // Where storage is blocked (private modes, iframes), the state lives in memory only.

  let storage = null;
  try {
    if (PREVIEW) throw 0; // the console's preview: memory only, the stored session stays the visitor's
    storage = window.localStorage;
    storage.setItem(STORAGE_KEY, storage.getItem(STORAGE_KEY) || '{}');
  } catch (e) {
    storage = null;
  }
  const state = { outbox: [], fields: {}, read: 0, seen: 0 };
  try { Object.assign(state, JSON.parse(storage.getItem(STORAGE_KEY))); } catch (e) { /* none yet, or no storage */ }
  const save = () => {
    try { storage.setItem(STORAGE_KEY, JSON.stringify(state)); } catch (e) { /* memory only */ }
  };

  // --- what lives only as long as the page --------------------------------------------------------

  let settings = { prechat: {}, availability: {} }; // the site's, from GET /settings (then /availability)
  let ui; // the DOM nodes, once built
  let isOpen, wantOpen; // the panel is open; Parley('open') came before the panel was built
  let identity = {}; // { user_id, user_hash } from Parley('identify')
  let notice = ''; // a passing message in the status line
  let refused; // the API is up but refuses this website (its origin is not one of the site's)
  let unavailable; // the API refuses this visitor a session (403: blocked): say so, and stop trying

  let socket; // the websocket, while connecting or open
  let socketOpen; // it is open: frames may be sent
  let connecting; // a session is being fetched before the socket opens
  let sessionStale; // the session token must be fetched again (new identity, refused socket)
  let retries = 0; // reconnections since the last ack: the backoff grows with them
  let lastRef = 0; // frames that wait for an ack carry ref: a counter
  let sendingCid; // the outbox message on its way (one at a time, in order)
  let fetchingHistory, historyAgain; // a history request is out; another one was asked for meanwhile
  let reconnectTimer, noticeTimer;

  let messages = []; // the conversation's messages, in seq order
  let messagesById = {};
  let lastSeq = 0; // the highest seq known, notes included
  let readSent = 0; // the last read receipt sent on this socket
  let unreadCount = -1; // the last count told to 'unread' listeners
  let queueInfo; // the last `queue` frame: the place in the queue
  let status; // the conversation's status, as the server last said ('bot' while the bot answers)
  let opening; // the `start` that opens a bot conversation is on its way (or was refused: not again)
  let typingAuthor, typingAuthorTimer; // who is typing on the other side; a frame 'on' lasts 10 s at most

  let typingSent; // a typing 'on' was sent and no 'off' yet
  let suggestTimer, asked = 0; // the article search waits for a pause in typing; the latest one asked
  const shown = {}; // article id -> 1 once shown in the suggestions (each reported once per page view)
  let reading; // an article is open (the article view replaces the log and the composer)
  let lastTypingAt = 0, typingTimer, idleTimer;

  const awaitingAck = {}; // ref -> { onReply, timer }
  const listeners = {}; // event name -> [fn]
  const emit = (name, data) => (listeners[name] || []).forEach((fn) => setTimeout(fn, 0, data));

  // An email link back to the conversation (?parley_resume=TOKEN&parley_conversation=ID): take it up
  // with that token, open the panel, and take the parameters out of the address bar.
  const resume = /[?&]parley_resume=([\w.-]+)&parley_conversation=(\w+)/.exec(location.search);
  if (resume) {
    forgetConversation();
    [, state.token, state.conv] = resume;
    sessionStale = wantOpen = true;
    history.replaceState(history.state, '', location.href.replace(resume[0], ''));
  }

  // --- DOM helpers --------------------------------------------------------------------------------

  // create('tag.a.b', attributes, ...children): classes a, b become parley-a parley-b; falsy children are skipped.
  function create(selector, attributes, ...children) {
    const [tag, ...classes] = selector.split('.');
    const node = document.createElement(tag);
    if (classes[0]) node.className = classes.map((name) => 'parley-' + name).join(' ');
    for (const name in attributes) node.setAttribute(name, attributes[name]);
    node.append(...children.filter(Boolean));
    return node;
  }

  function icon(pathData) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg'), path = document.createElementNS(ns, 'path');
    svg.setAttribute('viewBox', '0 0 24 24');
    path.setAttribute('d', pathData);
    svg.append(path);
    return svg;
  }

  // Text and links, by the rule the console shares (web/console/js/links.js: linkParts and safeHttpUrl,
  // put here by build.mjs): links open in a new tab, with no referrer.
  /* @links.js */
  const linkify = (body) => linkParts(body).map((part) => (typeof part === 'string' ? part
    : create('a', { href: part.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, part.label)));

  // --- REST ---------------------------------------------------------------------------------------

  const json = (response) => (response.ok ? response.json() : Promise.reject(response));
  const fetchSite = (path) => fetch(API + '/v1/sites/' + encodeURIComponent(SITE_KEY) + path).then(json);
  // The session's token, when there is one: searches and reports then count against this visitor's limit.
  const bearer = () => (state.token ? { headers: { Authorization: 'Bearer ' + state.token } } : {});
  // What the visitor did with the suggestions (POST /v1/articles/events): shown, opened, helpful, not_helpful.
  const report = (event, ids, extra) => fetch(API + '/v1/articles/events', {
    method: 'POST', ...bearer(), body: JSON.stringify({ site_key: SITE_KEY, event, article_ids: ids, ...extra }),
  }).then(json);

  // The visitor session's token: the stored one, or a new one (POST /v1/visitor/sessions). An identified
  // user signs in with user_id/user_hash; anyone else resumes with the old token, or starts afresh if
  // the server no longer knows it (401).
  async function sessionToken() {
    if (state.token && !sessionStale) return state.token;
    // locale: the language the widget speaks, so the system's messages and the emails speak it too
    const body = { site_key: SITE_KEY, page_url: location.href, locale: lang, preview: PREVIEW, ...state.fields };
    if (identity.user_id) Object.assign(body, identity);
    else body.resume_token = state.token;
    const response = await fetch(API + '/v1/visitor/sessions', { method: 'POST', body: JSON.stringify(body) });
    if (response.status === 401 && body.resume_token) {
      state.token = null;
      forgetConversation();
      return sessionToken();
    }
    if (response.status !== 201) throw response;
    state.token = (await response.json()).token;
    sessionStale = false;
    save();
    return state.token;
  }

  // --- the websocket ------------------------------------------------------------------------------

  // A socket only when there is something to say or hear: a conversation, an outbox, an open panel,
  // or an identified user.
  const wantsSocket = () => state.conv || state.outbox.length || isOpen || identity.user_id;

  async function connect() {
    if (refused || unavailable || socket || connecting || !wantsSocket() || !navigator.onLine) return;
    connecting = true;
    clearTimeout(reconnectTimer);
    let token, opened;
    try {
      token = await sessionToken();
    } catch (failure) {
      connecting = false;
      if (failure.status !== 403) return scheduleReconnect();
      unavailable = 1; // blocked, or a website the site does not list: no retry, and no "Reconnecting…"
      return paint();
    }
    connecting = false;
    const current = socket = new WebSocket(SOCKET_URL + '?token=' + encodeURIComponent(token));
    current.onopen = () => {
      opened = socketOpen = true;
      readSent = 0;
      state.conv ? fetchHistory() : flushOutbox();
      // On a bot's site, where a stored conversation stands now: with the bot, or with people.
      if (settings.bot && state.conv) {
        send({ action: 'current' }, (error, ack) => {
          if (ack && ack.conversation && ack.conversation.id === state.conv) status = ack.conversation.status;
          paint();
        });
      }
      paint();
    };
    current.onmessage = (event) => onFrame(JSON.parse(event.data));
    current.onclose = () => {
      // closed before it ever opened, while online: the token was refused, fetch a new one
      sessionStale = sessionStale || (!opened && navigator.onLine);
      dropSocket(current);
    };
  }

  // Give up this socket (closed, silent, or its session is wrong): every request waiting for an ack
  // gets {code: 'closed'}, and a reconnection is planned.
  function dropSocket(which) {
    if (!which || socket !== which) return;
    socket = sendingCid = socketOpen = fetchingHistory = null;
    for (const ref in awaitingAck) {
      clearTimeout(awaitingAck[ref].timer);
      awaitingAck[ref].onReply({ code: 'closed' });
      delete awaitingAck[ref];
    }
    which.close();
    scheduleReconnect();
    paint();
  }

  // Exponential backoff: 1 s, 2 s, 4 s … 30 s at most, each drawn between half and all of it.
  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    if (wantsSocket()) reconnectTimer = setTimeout(connect, Math.min(30000, 1000 * 2 ** retries++) * (0.5 + Math.random() / 2));
  }

  // Send a frame. With onReply, it carries a ref and onReply(error, ack) gets the answer; no answer in
  // 15 s means the socket is dead. Not connected: onReply({code: 'closed'}) at once.
  function send(frame, onReply) {
    if (!socketOpen) return onReply && onReply({ code: 'closed' });
    if (onReply) {
      const current = socket, ref = frame.ref = String(++lastRef);
      awaitingAck[ref] = { onReply, timer: setTimeout(() => dropSocket(current), 15000) };
    }
    socket.send(JSON.stringify(frame));
  }

  function onFrame(frame) {
    const waiting = awaitingAck[frame.ref], type = frame.type, message = frame.message;
    if (waiting && /ack|error/.test(type)) {
      retries = 0;
      clearTimeout(waiting.timer);
      delete awaitingAck[frame.ref];
      return waiting.onReply(type === 'error' && frame, frame);
    }
    const ours = frame.conversation_id === state.conv;
    const fromStaff = frame.author && frame.author.kind !== 'visitor';
    if (type === 'message') {
      if (!state.conv) { // the first message of a conversation started elsewhere (another tab, an agent)
        state.conv = frame.conversation_id;
        return fetchHistory();
      }
      if (!ours) return;
      if (message.seq > lastSeq + 1) fetchHistory(); // a gap: some were missed
      if (addMessage(message, true) && message.author.kind !== 'visitor') typingAuthor = null;
    } else if (type === 'typing' && ours && fromStaff) {
      typingAuthor = frame.state === 'on' && frame.author;
      clearTimeout(typingAuthorTimer);
      typingAuthorTimer = setTimeout(() => {
        typingAuthor = null;
        paint();
      }, 10000);
    } else if (type === 'read' && ours && fromStaff) {
      state.seen = Math.max(state.seen, frame.seq);
    } else if (type === 'conversation') {
      adoptConversation(frame.conversation);
    } else if (type === 'queue') { // may come before start's ack names the conversation
      queueInfo = frame;
    } else if (type === 'csat_request' && ours) {
      state.csat = state.conv;
    }
    save();
    paint();
  }

  // --- the conversation ---------------------------------------------------------------------------

  // Add a message once (internal notes never), in seq order; the visitor's own takes its outbox
  // copy's place. `live`: it just arrived, so 'message' listeners hear of the agent's or bot's.
  function addMessage(message, live) {
    if (!message || message.internal || messagesById[message.id]) return;
    messagesById[message.id] = message;
    lastSeq = Math.max(lastSeq, message.seq);
    if (message.author.kind === 'visitor') state.outbox = state.outbox.filter((item) => item.cid !== message.client_msg_id);
    let index = messages.length;
    while (index && messages[index - 1].seq > message.seq) index--;
    messages.splice(index, 0, message);
    if (live && message.author.kind !== 'visitor') emit('message', message);
    save();
    return true;
  }

  // The server's word on the conversation: another one than ours replaces it.
  function adoptConversation(conversation) {
    if (conversation.id !== state.conv) {
      if (state.conv) forgetConversation();
      state.conv = conversation.id;
    }
    state.read = Math.max(state.read, conversation.visitor_read_seq || 0);
    status = conversation.status;
    // Out of the queue, or told the answer comes by email (missed in this wait): no place to show.
    if (!/queued|bot/.test(conversation.status) || conversation.missed_at >= conversation.queued_at) queueInfo = null;
    save();
  }

  function forgetConversation() {
    messages = [];
    messagesById = {};
    lastSeq = readSent = 0;
    queueInfo = status = null;
    Object.assign(state, { conv: null, read: 0, seen: 0, csat: null, offline: 0 });
    save();
  }

  // History: the last 20 on a fresh page, else everything after lastSeq, page by page; then the outbox.
  function fetchHistory() {
    if (!socketOpen || !state.conv) return;
    if (fetchingHistory) return (historyAgain = true);
    fetchingHistory = true;
    historyAgain = false;
    const live = messages.length > 0;
    const frame = { action: 'history', conversation_id: state.conv, limit: 20 };
    if (live) frame.after_seq = lastSeq;
    send(frame, (error, ack) => {
      fetchingHistory = false;
      if (error) {
        if (error.code === 'unauthorized') return dropSocket(socket); // the server forgot this socket: a new one
        if (error.code === 'not_found') { // gone: the outbox starts a new one
          forgetConversation();
          flushOutbox();
          paint();
        }
        return;
      }
      ack.messages.forEach((message) => addMessage(message, live));
      lastSeq = Math.max(lastSeq, ack.last_seq || 0); // the rest were notes
      paint();
      if (historyAgain || (live && ack.has_more)) fetchHistory();
      else flushOutbox();
    });
  }

  // A bot's site: opening the panel starts the conversation with no text, and the bot greets (its first
  // messages in the ack, or as `message` events). Refused: not again on this page (the visitor may still write).
  function greet() {
    opening = 1;
    send({ action: 'start', page_url: location.href, fields: state.fields }, (error, ack) => {
      opening = error && error.code !== 'closed';
      if (error) return;
      adoptConversation(ack.conversation);
      const replies = ack.messages || [];
      replies.forEach((message) => addMessage(message, true));
      replies.length ? paint() : fetchHistory(); // none: a conversation the server found, with its history
    });
  }

  // Send the outbox's first message (start a conversation if there is none), then the next.
  function flushOutbox() {
    const item = state.outbox[0];
    if (!socketOpen || sendingCid || !item) return;
    sendingCid = item.cid;
    const frame = state.conv
      ? { action: 'send', conversation_id: state.conv, client_msg_id: item.cid, text: item.text }
      : { action: 'start', text: item.text, client_msg_id: item.cid, page_url: location.href, fields: state.fields };
    send(frame, (error, ack) => {
      sendingCid = null;
      if (error) return sendFailed(item, error);
      if (ack.conversation) { // start does not echo its message: history brings it
        adoptConversation(ack.conversation);
        return fetchHistory();
      }
      addMessage(ack.message);
      paint();
      flushOutbox();
    });
  }

  function sendFailed(item, { code, retry_after }) {
    if (code === 'closed') return; // the next socket sends it
    if (code === 'unauthorized') return dropSocket(socket);
    if (/bad_request|too_large|forbidden/.test(code)) { // refused for good: give the text back
      state.outbox.shift();
      ui.input.value = item.text;
      showNotice(translate('oops'));
    } else if (code === 'not_found' || (code === 'conflict' && (item.tries = (item.tries | 0) + 1) > 2)) {
      forgetConversation(); // closed: the outbox starts a new conversation
    } else {
      return setTimeout(flushOutbox, (retry_after || 2) * 1000); // rate limited or busy: later
    }
    save();
    paint();
    flushOutbox();
  }

  // The visitor's message goes to the outbox first (kept across reloads), with a random client id
  // ("w" + 24 hex digits) so that the server keeps it once however often it is sent.
  function enqueue(message) {
    if (!(message = message.trim().slice(0, 4000))) return;
    const hex = (byte) => (byte + 256).toString(16).slice(1);
    const cid = 'w' + Array.from(crypto.getRandomValues(new Uint8Array(12)), hex).join('');
    state.outbox.push({ cid, text: message });
    save();
    paint(true);
    socket ? flushOutbox() : connect();
  }

  // Read receipts and the unread badge: what the agent or bot wrote counts as read only while the
  // panel is open and the page is visible.
  function markRead() {
    const staff = messages.filter((message) => /agent|bot/.test(message.author.kind));
    const last = staff[staff.length - 1];
    if (isOpen && document.visibilityState === 'visible' && last) {
      state.read = Math.max(state.read, last.seq);
      if (state.read > readSent) send({ action: 'read', conversation_id: state.conv, seq: readSent = state.read });
      save();
    }
    const count = staff.filter((message) => message.seq > state.read).length;
    ui.badge.textContent = count > 9 ? '9+' : count;
    ui.badge.hidden = !count || isOpen;
    ui.launcher.setAttribute('aria-label', translate(isOpen ? 'close' : 'open') + (count ? ', ' + translate('unread', { n: count }) : ''));
    if (count !== unreadCount) emit('unread', unreadCount = count);
  }

  // --- typing: 'on' with a preview, at most every 800 ms; 'off' after 3 s idle or an empty box ----

  function onComposerInput() {
    const input = ui.input;
    suggest(input.value.trim());
    if (!input.value.trim()) return stopTyping();
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, 3000);
    typingTimer = typingTimer || setTimeout(() => {
      typingTimer = 0;
      lastTypingAt = Date.now();
      if (state.conv && input.value.trim()) {
        typingSent = true;
        send({ action: 'typing', conversation_id: state.conv, state: 'on', preview: input.value.slice(0, 4000) });
      }
    }, Math.max(0, lastTypingAt + 800 - Date.now()));
  }

  function stopTyping() {
    clearTimeout(idleTimer);
    clearTimeout(typingTimer);
    typingTimer = 0;
    if (typingSent) send({ action: 'typing', conversation_id: state.conv, state: 'off' });
    typingSent = false;
  }

  // --- articles while the visitor types: 3 characters, a 300 ms pause, until the team has written ----
  // (and not while the bot answers: it suggests articles itself)

  function suggest(query) {
    clearTimeout(suggestTimer);
    const ask = ++asked; // an answer to an older question is dropped
    if (query.length < 3 || status === 'bot' || messages.some((message) => message.author.kind === 'agent')) return showSuggestions([]);
    suggestTimer = setTimeout(() => fetch(API + '/v1/articles/search?' + new URLSearchParams(
      { site_key: SITE_KEY, q: query.slice(0, 500), locale: lang }), bearer()).then(json)
      .then((found) => ask === asked && showSuggestions(found.items, query), () => {}), 300);
  }

  function showSuggestions(items, query) {
    const fresh = items.map((item) => item.id).filter((id) => !shown[id]);
    if (fresh.length) report('shown', fresh, { query }).catch(() => {});
    fresh.forEach((id) => { shown[id] = 1; });
    ui.suggest.replaceChildren(...(items.length ? [create('p.label', { id: 'parley-suggested' }, translate('suggested')),
      articleList(items, query, { 'aria-labelledby': 'parley-suggested' })] : []));
  }

  // Articles as a list of buttons that open them: the suggestions', and those a bot's message carries.
  const articleList = (items, query, attributes) => create('ul.arts', attributes, ...items.map((item) => create('li', null,
    chip(item.title, () => openArticle(item, query)))));
  const chip = (label, onclick) => Object.assign(create('button.chip', { type: 'button' }, label), { onclick });

  // The article view, loaded the first time it is needed; Yes solves (no human needed), No goes back to
  // the composer with the question as it was.
  function openArticle(item, query) {
    report('opened', [item.id], { query }).catch(() => {});
    const view = () => window.ParleyKb({ node: ui.article, create, lang, api: API, site: SITE_KEY, item, back: closeArticle,
      answer: (helpful) => {
        const sent = report(helpful ? 'helpful' : 'not_helpful', [item.id], { query, conversation_id: state.conv || undefined });
        if (!helpful) return closeArticle(), sent.catch(() => {});
        suggest(ui.input.value = ''); // answered: the question is not sent
        return sent.catch(() => showNotice(translate('oops')));
      } });
    reading = item;
    paint();
    if (window.ParleyKb) return view();
    ui.article.textContent = '…';
    const loader = create('script', { src: new URL('widget-kb.js', script.src) });
    loader.onload = view;
    loader.onerror = () => { closeArticle(); showNotice(translate('oops')); };
    document.head.append(loader);
  }

  function closeArticle() {
    reading = null;
    paint();
    ui.input.focus();
  }

  // --- building the widget ------------------------------------------------------------------------

  // <div id="parley-widget"> with a shadow root: the launcher, and the panel (header, transcript form,
  // body with the log, status line, composer). Shown once widget.css has loaded (or failed to).
  function buildUi() {
    const color = /^#[0-9a-f]{6}$/i.test(settings.color) ? settings.color : '#1f6feb';
    const rgb = parseInt(color.slice(1), 16);
    const light = (rgb >> 16) + ((rgb >> 8) & 255) * 2 + (rgb & 255) > 600; // a light colour: dark text on it
    const stylesheet = create('link', { rel: 'stylesheet', href: new URL('widget.css', script.src) });
    const input = create('textarea.input', { rows: 1, maxlength: 4000, placeholder: translate('write'), 'aria-label': translate('message') });
    const composer = create('form.composer', null, input,
      create('button.send', { 'aria-label': translate('send') }, icon('M3 20.5 21.5 12 3 3.5V10l13 2-13 2z')));
    const transcriptForm = create('div.tform', null, buildForm(translate('transcript'), ['email'], ['email'], ({ email }) => {
      send({ action: 'transcript', conversation_id: state.conv, email },
        (error) => showNotice(translate(error ? 'oops' : 'sent_to', { e: email })));
      mailButton.click();
    }));
    const transcriptEmail = transcriptForm.querySelector('input');
    const mailButton = create('button.icon', { type: 'button', 'aria-label': translate('transcript'), 'aria-expanded': false }, '\u2709');
    const closeButton = create('button.icon', { type: 'button', 'aria-label': translate('close') }, '\u00d7');
    const launcher = create('button.launcher', { type: 'button', 'aria-expanded': false },
      icon('M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z'));
    const greeting = !settings.bot && ((settings.greetings || {})[lang] || settings.greeting); // a bot says it itself
    const body = create('div.body', null, create('p.greeting', null, greeting));
    const article = create('div.article', { role: 'region', 'aria-labelledby': 'parley-atitle' });
    const suggestions = create('div.suggest');
    const human = create('button.human', { type: 'button' }, translate('human'));
    const panel = create('section.panel', { role: 'dialog', 'aria-labelledby': 'parley-name' },
      create('header.header', null,
        create('div.titles', null, create('h2.name', { id: 'parley-name' }, settings.name), create('p.sub')),
        mailButton, closeButton),
      transcriptForm, body, article, create('p.status', { role: 'status' }), suggestions, human, composer);
    ui = {
      app: create(light ? 'div.app.light' : 'div.app', { lang }, stylesheet, panel, launcher),
      panel, body, article, suggest: suggestions, human, composer, input, launcher, mailButton,
      nodes: {}, // message key -> its node in the log
      view: '', // the form shown instead of the composer: '', 'prechat' or 'offline'
      subtitle: panel.querySelector('.parley-sub'),
      status: panel.querySelector('.parley-status'),
      badge: launcher.appendChild(create('span.badge', { 'aria-hidden': true })),
      log: body.appendChild(create('div.log', { role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions' })),
    };
    // below the log, each a div.parley-NAME: ui.note, ui.queue, ui.typing, ui.csat, ui.forms
    ['note', 'queue', 'typing', 'csat', 'forms'].forEach((name) => { ui[name] = body.appendChild(create('div.' + name)); });
    ui.typing.append(create('i.dots'), create('span'));
    ui.app.style.setProperty('--parley-color', color);
    ui.app.hidden = panel.hidden = transcriptForm.hidden = true;
    stylesheet.onload = stylesheet.onerror = () => { ui.app.hidden = false; };
    const host = create('div', { id: 'parley-widget' });
    (ui.root = host.attachShadow({ mode: 'open' })).append(ui.app);
    (document.body || document.documentElement).append(host);

    launcher.onclick = () => toggle(!isOpen);
    human.onclick = () => { // hidden at once: one tap is one handoff
      status = 0;
      choose({ id: 'human', label: translate('human') });
      input.focus();
    };
    closeButton.onclick = () => toggle(false);
    mailButton.onclick = () => { // shows or hides the transcript form
      mailButton.setAttribute('aria-expanded', transcriptForm.hidden);
      if ((transcriptForm.hidden = !transcriptForm.hidden)) return input.focus();
      transcriptEmail.value ||= state.fields.email || '';
      transcriptEmail.oninput();
      transcriptEmail.focus();
    };
    // Escape closes the article if one is open, else the transcript form if open, else the panel
    panel.addEventListener('keydown', (event) => event.key === 'Escape'
      && (reading ? closeArticle() : transcriptForm.hidden ? toggle(false) : mailButton.click()));
    input.oninput = onComposerInput;
    input.onkeydown = (event) => { // Enter sends, Shift+Enter is a new line, an IME's Enter is the IME's
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    };
    composer.onsubmit = (event) => {
      event.preventDefault();
      const message = input.value;
      input.value = '';
      onComposerInput();
      enqueue(message);
    };
  }

  // A form of labelled fields (a "message" field is a textarea), checked by the browser with our
  // texts; onValid gets {name: trimmed value}.
  function buildForm(intro, names, requiredNames, onValid) {
    const form = create('form.form', null, create('p.q', null, intro));
    const fields = names.map((name) => {
      const isArea = name === 'message', type = name === 'email' ? 'email' : 'text';
      const field = create(isArea ? 'textarea.input' : 'input.input', isArea ? { rows: 3, maxlength: 4000 } : { type, autocomplete: name });
      Object.assign(field, { name, required: requiredNames.includes(name), value: state.fields[name] || '' });
      (field.oninput = () => {
        const value = field.value.trim();
        field.setCustomValidity(!value ? (field.required ? translate('required') : '')
          : type === 'email' && !EMAIL.test(value) ? translate('bad_email') : '');
      })();
      form.append(create('label.label', null, translate(name) + (field.required ? ' *' : ''), field));
      return field;
    });
    form.append(create('button.primary', null, translate('send')));
    form.onsubmit = (event) => {
      event.preventDefault();
      onValid(Object.fromEntries(fields.map((field) => [field.name, field.value.trim()])));
    };
    return form;
  }

  // The pre-chat form (the site's fields, name and email only) or the offline form (email always
  // required); both end with the message, which goes to the outbox.
  function buildVisitorForm(kind) {
    const prechat = settings.prechat, enabled = prechat.enabled;
    const names = ((enabled && prechat.fields) || []).filter((name) => /^(name|email)$/.test(name));
    if (kind === 'offline' && !names.includes('email')) names.push('email');
    const required = ((enabled && prechat.required) || []).concat('message', kind === 'offline' ? 'email' : []);
    return buildForm(translate(kind), names.concat('message'), required, (values) => {
      names.forEach((name) => { state.fields[name] = values[name] || undefined; });
      state.offline = kind === 'offline';
      enqueue(values.message);
      ui.input.focus();
    });
  }

  // The rating card (after a csat_request): five stars and an optional comment.
  function buildCsat() {
    const comment = create('textarea.input', { rows: 2, maxlength: 2000, 'aria-label': translate('comment'), placeholder: translate('comment') });
    const card = create('div.card', null, create('p.q', null, translate('rate')), comment);
    card.append(create('div.stars', { role: 'group', 'aria-label': translate('rate') }, ...[1, 2, 3, 4, 5].map((rating) => {
      const star = create('button.star', { type: 'button', 'aria-label': translate('stars', { n: rating }) }, '\u2605');
      star.onclick = () => send({ action: 'rate', conversation_id: state.conv, rating, comment: comment.value.trim() || undefined }, (error) => {
        if (error && error.code !== 'conflict') return showNotice(translate(error.code === 'closed' ? 'net' : 'oops')); // conflict: rated already
        state.rated = state.conv;
        save();
        card.replaceChildren(create('p.q', null, translate('thanks')));
      });
      return star;
    })));
    return card;
  }

  // A message in the status line for 8 s.
  function showNotice(message) {
    notice = message;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => {
      notice = '';
      paint();
    }, 8000);
    paint();
  }

  // --- drawing ------------------------------------------------------------------------------------

  // One message's node: author line (agent, bot), bubble, the bot's articles and option chips (an optional
  // question's Skip is one; its "human" is not: Talk to a person has its own place), meta line (Sending…, Seen).
  function messageNode(message) {
    const kind = message.cid ? 'visitor' : message.author.kind; // an outbox item has a cid
    const node = create('div.msg.' + kind), options = message.options;
    if (/agent|bot/.test(kind)) node.append(node.who = create('div.author', null, message.author.name || translate(kind)));
    node.append(create('div.bubble', null, ...linkify(message.text)));
    if (message.articles) node.append(articleList(message.articles));
    if (options) {
      node.append(node.options = create('div', null, ...options.filter((option) => option.id !== 'human')
        .map((option) => chip(option.label, () => {
          message.chosen = true;
          choose(option);
        }))));
    }
    node.append(node.meta = create('div.meta'));
    return node;
  }

  // The visitor's choice ("human": Talk to a person): its ack holds it (as its label) and the bot's answer
  // (a change of status comes as a `conversation` event). Refused (no bot there): the label goes as text.
  function choose(option) {
    send({ action: 'choose', conversation_id: state.conv, option_id: option.id }, (error, ack) => {
      if (error) return enqueue(option.label);
      [ack.message].concat(ack.messages).forEach((message) => addMessage(message, true));
      paint();
    });
    paint();
  }

  // A message's time of day, as the visitor's language writes it (14:05, 2:05 PM).
  const clock = (stamp) => new Date(stamp).toLocaleTimeString(lang, { hour: 'numeric', minute: '2-digit' });

  // The log: messages, then the outbox. Nodes are kept by key (cid, the visitor's client_msg_id, or
  // id), so a confirmed message keeps its pending node: a screen reader announces it once.
  function renderLog() {
    const items = messages.concat(state.outbox), nodes = {}, log = ui.log;
    const lastSeen = messages.filter((message) => message.author.kind === 'visitor' && message.seq <= state.seen).pop();
    let position = 0, previousAuthor;
    items.forEach((item, index) => {
      const key = item.cid || (item.author.kind === 'visitor' && item.client_msg_id) || item.id;
      if (nodes[key]) return;
      const node = nodes[key] = ui.nodes[key] || messageNode(item);
      const author = item.cid ? 'visitor' : item.author.kind + item.author.id;
      if (node.who) node.who.hidden = previousAuthor === author; // one author line per run of messages
      if (node.options) node.options.hidden = item.chosen || index < items.length - 1; // options of the last message only
      node.classList.toggle('parley-pending', !!item.cid);
      node.meta.textContent = item.cid ? translate(unavailable ? 'not_sent' : 'sending')
        : clock(item.created_at) + (item === lastSeen ? ' · ' + translate('seen') : '');
      if (log.children[position] !== node) log.insertBefore(node, log.children[position] || null);
      previousAuthor = author;
      position++;
    });
    while (log.children[position]) log.lastChild.remove();
    ui.nodes = nodes;
  }

  // Draw everything from the state. scroll: go to the bottom (else stay there if already near it).
  function paint(scroll) {
    if (!ui) return;
    const body = ui.body, prechat = settings.prechat, chatting = state.conv || state.outbox.length;
    const stick = scroll || body.scrollHeight - body.scrollTop - body.clientHeight < 80;
    const online = settings.availability.online !== false;
    // The offline form (an email required) only when nobody can answer: agents away still take chats by hand.
    const reachable = online || settings.availability.agents_away > 0;
    // Neither form on a bot's site: the bot answers when nobody is online, and its questions are the form.
    const view = refused || unavailable || chatting || settings.bot ? ''
      : !reachable ? 'offline'
        : prechat.enabled && !(prechat.required || []).every((name) => state.fields[name]) ? 'prechat' : '';
    if (view !== ui.view) ui.forms.replaceChildren(...(view ? [buildVisitorForm(view)] : []));
    ui.view = view;
    // Once an agent joined or wrote, the header names them (the latest: a transfer moves it on, to nobody for a
    // team's queue): availability no longer says anything.
    const latest = messages.filter((message) => (message.author.kind === 'agent' && message.author.name)
      || /joined|transferred/.test(message.notice)).pop();
    const agentName = latest && (latest.notice ? latest.agent_name : latest.author.name);
    ui.subtitle.textContent = refused ? translate('refused') : unavailable ? translate('unavailable') : agentName && state.conv ? translate('with', { n: agentName })
      : translate(online ? 'online' : 'away');
    renderLog();
    ui.composer.hidden = ui.suggest.hidden = refused || unavailable || view || reading;
    ui.human.hidden = ui.composer.hidden || status !== 'bot';
    // The bot's last question asks for an email, a number, a phone: the keyboard and autofill that fit.
    // (inputmode email/decimal/tel; autocomplete email/tel, off for a number, name for a field called name)
    const ask = (messages[messages.length - 1] || {}).ask || {};
    const mode = { email: 'email', number: 'decimal', phone: 'tel' }[ask.type] || '';
    Object.assign(ui.input, { inputMode: mode, autocapitalize: mode && 'off',
      autocomplete: mode === 'decimal' ? 'off' : mode || (ask.field === 'name' ? 'name' : '') });
    if (settings.bot && isOpen && socketOpen && !view && !chatting && !opening) greet();
    ui.body.hidden = !(ui.article.hidden = !reading);
    ui.mailButton.hidden = !state.conv || unavailable;
    // An offline message is promised an email answer only once the server has it (its outbox entry acked).
    ui.note.textContent = !state.offline || !chatting ? ''
      : state.outbox.length ? translate('leaving') : translate('done', { e: state.fields.email });
    // No place in a queue to a visitor who was told the answer comes by email.
    const queue = !state.offline && queueInfo && queueInfo.conversation_id === state.conv && queueInfo;
    ui.queue.textContent = queue ? translate('queue', { p: queue.position, m: Math.ceil((queue.eta_seconds || 1) / 60) }) : '';
    ui.typing.hidden = !typingAuthor;
    ui.typing.lastChild.textContent = typingAuthor ? translate('typing', { n: typingAuthor.name || translate('agent') }) : '';
    if (state.csat !== state.conv || !state.conv) ui.csat.replaceChildren();
    else if (!ui.csat.firstChild && state.rated !== state.conv) ui.csat.append(buildCsat());
    ui.status.textContent = unavailable ? (settings.contact_email ? translate('contact', { e: settings.contact_email }) : '')
      : notice || (chatting && !socketOpen && isOpen ? translate('net') : '');
    markRead();
    if (stick) body.scrollTop = body.scrollHeight;
  }

  // Open or close the panel. Opening focuses the first field, connects and refreshes the availability;
  // closing gives the focus back to the launcher if the panel had it.
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
    fetchSite('/availability').then((availability) => {
      settings.availability = availability;
      paint(true);
    }, () => {});
  }

  // Parley('identify', ...): name and email fill the forms and the session; a user_id signs in (another
  // user than the stored one starts afresh). Anything new: a new session, so a new socket.
  function identify(person) {
    const fields = state.fields, before = JSON.stringify([fields, identity.user_id]);
    if (person.name) fields.name = String(person.name).slice(0, 120);
    if (EMAIL.test(person.email)) fields.email = person.email;
    if (person.user_id) {
      if (state.uid && state.uid !== String(person.user_id)) {
        state.token = null;
        forgetConversation();
      }
      identity = { user_id: state.uid = String(person.user_id), user_hash: person.user_hash };
    }
    save();
    if (before === JSON.stringify([fields, identity.user_id])) return;
    sessionStale = true;
    socket ? dropSocket(socket) : connect();
  }

  // --- the global, and the start --------------------------------------------------------------------

  function Parley(command, arg, fn) {
    if (/open|close/.test(command)) toggle(command === 'open');
    if (command === 'identify') identify(arg || {});
    if (command === 'on') (listeners[arg] = listeners[arg] || []).push(fn);
  }
  Parley.loaded = true;
  const queued = (window.Parley && window.Parley.q) || []; // calls made to the snippet's stub
  window.Parley = Parley;
  queued.forEach((args) => Parley(...args));

  // The site's settings, then the widget. 401: no such site key, nothing is shown. Another HTTP error:
  // the widget with default settings. No answer at all (CORS): if the API is up, this website is not
  // one of the site's (refused); if it is down too, the widget shows and retries.
  fetchSite('/settings').then(
    (siteSettings) => { settings = siteSettings; },
    (failure) => failure.status === 401 ? Promise.reject(failure)
      : failure.status || fetch(API + '/v1/health').then(() => { refused = 1; }, () => 0),
  ).then(() => {
    settings.bot ||= PREVIEW; // a preview runs the flow it was given, enabled or not
    buildUi();
    paint();
    toggle(wantOpen);
    connect();
  }, () => console.warn('Parley: unknown site key ' + SITE_KEY));
  window.addEventListener('online', () => {
    retries = 0;
    connect();
    paint();
  });
  window.addEventListener('offline', () => dropSocket(socket));
  document.addEventListener('visibilitychange', () => paint());
  setInterval(() => send({ action: 'ping' }), 240000); // keeps the socket alive through idle timeouts
})();
