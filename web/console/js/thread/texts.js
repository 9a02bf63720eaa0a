/* The conversation's side panel in French, keyed by its English (index.html, thread/*.js); i18n.js says
 * how entries work. Only the suggested articles are translated so far (thread/suggestions.js). */
import { register } from "../i18n.js";

register({
  "Suggested articles": "Articles suggérés",
  "For “{query}”": "Pour « {query} »",
  "Suggestions are unavailable right now.": "Les suggestions sont indisponibles pour le moment.",
  "Looking for articles…": "Recherche d’articles…",
  "No matching article": "Aucun article correspondant",
  "Insert link": "Insérer le lien",
  "Insert summary": "Insérer le résumé",
  "Insert link to {title} in your reply": "Insérer le lien vers « {title} » dans votre réponse",
  "Insert summary of {title} in your reply": "Insérer le résumé de « {title} » dans votre réponse",
});
